//! Every outgoing HTTP client holdfast makes comes from here: the DataCite REST client,
//! replica pulls and challenges of partner archives, repairs from a partner's copy, and
//! the S3 store. One place sets what they share: rustls with ring and the system's CA
//! certificates (reqwest's `rustls-tls-native-roots`; no OpenSSL, no aws-lc), the user
//! agent `holdfast/<version>`, how long a connection may take to open, the redirect
//! policy and the connection pool. Each kind of peer ([`Peer`]) has its own timeouts,
//! because a DataCite call and a multi-gigabyte download do not wait alike.

use std::time::Duration;

/// How long opening a connection (TCP and TLS) may take, for every peer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections are kept this long for the next request to the same host.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Most idle connections kept per host (parallel part uploads, parallel file pulls).
const POOL_MAX_IDLE_PER_HOST: usize = 16;
/// TCP keep-alive probes, so a peer that vanished is noticed on long transfers.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
/// Most redirects followed where redirects are followed at all.
const MAX_REDIRECTS: usize = 5;

/// Who a client talks to; each has its own timeouts and redirect rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A JSON API answering small requests at once (DataCite): the whole exchange
    /// must finish within 30 s.
    Api,
    /// A partner archive's files and lists, streamed and possibly many GB: no limit on
    /// the whole request, but a server that sends nothing for 2 minutes fails it.
    Transfer,
    /// A partner asked to read and hash whole files before it answers (a challenge),
    /// or a copy fetched for a repair: up to an hour for the answer.
    SlowAnswer,
    /// An object store (S3): parts and objects may be large, so no limit on the whole
    /// request; a store that sends nothing for 5 minutes fails it. Redirects are never
    /// followed (a signed request must not be replayed at another host).
    ObjectStore,
}

impl Peer {
    /// (whole request, silence while reading) limits.
    fn timeouts(self) -> (Option<Duration>, Option<Duration>) {
        match self {
            Peer::Api => (Some(Duration::from_secs(30)), None),
            Peer::Transfer => (None, Some(Duration::from_secs(120))),
            Peer::SlowAnswer => (Some(Duration::from_secs(3600)), None),
            Peer::ObjectStore => (None, Some(Duration::from_secs(300))),
        }
    }

    /// The whole-request limit, if any (for messages that say how long was waited).
    pub fn total_timeout(self) -> Option<Duration> {
        self.timeouts().0
    }
}

/// `holdfast/<version>`, the user agent of every outgoing request.
pub fn user_agent() -> String {
    format!("holdfast/{}", env!("CARGO_PKG_VERSION"))
}

/// Redirects are followed (at most [`MAX_REDIRECTS`]) but never from https to plain
/// http, where a partner's answer could be read or changed on the way.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let downgrade = attempt.url().scheme() == "http"
            && attempt
                .previous()
                .last()
                .is_some_and(|from| from.scheme() == "https");
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if downgrade {
            attempt.error("a redirect from https to plain http was refused")
        } else {
            attempt.follow()
        }
    })
}

/// A client for `peer` with holdfast's settings. `contact` (the archive's public URL)
/// is added to the user agent where the peer asks clients to say who they are
/// (DataCite does): `holdfast/0.1.0 (+https://data.example.org)`.
pub fn client(peer: Peer, contact: Option<&str>) -> Result<reqwest::Client, reqwest::Error> {
    let user_agent = match contact {
        Some(url) => format!("{} (+{url})", user_agent()),
        None => user_agent(),
    };
    let (total, read) = peer.timeouts();
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_native_certs(true)
        .user_agent(user_agent)
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
        .tcp_keepalive(TCP_KEEPALIVE)
        .redirect(match peer {
            Peer::ObjectStore => reqwest::redirect::Policy::none(),
            _ => redirect_policy(),
        });
    if let Some(total) = total {
        builder = builder.timeout(total);
    }
    if let Some(read) = read {
        builder = builder.read_timeout(read);
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, Write};

    /// A plain HTTP server on 127.0.0.1 answering each connection with the next of
    /// `answers` (raw status line and headers), handing back each request's head.
    fn server(answers: Vec<String>) -> (String, std::sync::mpsc::Receiver<String>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for answer in answers {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let mut reader = std::io::BufReader::new(stream);
                let mut head = String::new();
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    head.push_str(&line);
                    line.clear();
                }
                let _ = tx.send(head);
                let mut stream = reader.into_inner();
                let _ = write!(stream, "{answer}");
            }
        });
        (base, rx)
    }

    #[tokio::test]
    async fn requests_carry_the_user_agent_and_redirects_follow_the_policy() {
        let ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
        let (base, heads) = server(vec![
            "HTTP/1.1 302 Found\r\nlocation: /there\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                .to_string(),
            ok.to_string(),
        ]);
        let http = client(Peer::Transfer, Some("https://data.example.org")).expect("client");
        let r = http.get(format!("{base}/here")).send().await.expect("get");
        assert_eq!(
            r.text().await.expect("body"),
            "ok",
            "the redirect was followed"
        );
        let first = heads.recv().expect("first request");
        let expected = format!(
            "user-agent: holdfast/{} (+https://data.example.org)",
            env!("CARGO_PKG_VERSION")
        );
        assert!(first.to_ascii_lowercase().contains(&expected), "{first}");
        assert!(heads.recv().expect("second").starts_with("GET /there "));

        // An object store's redirect is handed back, not followed.
        let (base, heads) = server(vec![
            "HTTP/1.1 301 Moved Permanently\r\nlocation: /elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                .to_string(),
        ]);
        let store = client(Peer::ObjectStore, None).expect("client");
        let r = store
            .get(format!("{base}/bucket"))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), reqwest::StatusCode::MOVED_PERMANENTLY);
        let head = heads.recv().expect("request").to_ascii_lowercase();
        assert!(
            head.contains(&format!("user-agent: {}\r\n", user_agent())),
            "{head}"
        );
    }

    #[tokio::test]
    async fn redirect_chains_are_bounded() {
        let hop = "HTTP/1.1 302 Found\r\nlocation: /again\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        let (base, _heads) = server(vec![hop.to_string(); MAX_REDIRECTS + 2]);
        let http = client(Peer::Api, None).expect("client");
        let err = http
            .get(format!("{base}/loop"))
            .send()
            .await
            .expect_err("an endless chain fails");
        assert!(err.is_redirect(), "{err}");
    }
}
