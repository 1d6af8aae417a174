use super::{parse_document, Document, ATTEMPTS};
use crate::error::{DomainError, ErrorContext};
use crate::federation::objects::{self};
use crate::storage::ocfl::parse_sidecar;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::time::Duration;

pub(super) fn http_client() -> Result<reqwest::Client, DomainError> {
    crate::http_client::client(crate::http_client::Peer::Transfer, None)
        .context("building the HTTP client for replica transfers")
}

/// A source as this replica reaches it.
pub(super) struct Remote {
    pub(super) client: reqwest::Client,
    /// The address registered with `replicate add`.
    pub(super) base: String,
    pub(super) token: Option<String>,
    /// The base URL the source writes into its documents, when it differs from the
    /// registered one (behind a proxy, another name): such URLs are fetched through
    /// the registered address.
    pub(super) advertised: std::sync::Mutex<Option<String>>,
}

/// Whether `url` is `base` itself or a path or query below it (not `base` followed by
/// more of a host name, as `https://a.example.evil.org` is not under `https://a.example`).
fn is_under(url: &str, base: &str) -> bool {
    url.strip_prefix(base)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
}

impl Remote {
    pub(super) fn new(base: &str, token: Option<String>) -> Result<Remote, DomainError> {
        Ok(Remote {
            client: http_client()?,
            base: base.trim_end_matches('/').to_string(),
            token,
            advertised: std::sync::Mutex::new(None),
        })
    }

    pub(super) fn rebase(&self, url: &str) -> String {
        let advertised = self
            .advertised
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match advertised {
            Some(a) if a != self.base => match url.strip_prefix(&a) {
                Some(rest) if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') => {
                    format!("{}{rest}", self.base)
                }
                _ => url.to_string(),
            },
            _ => url.to_string(),
        }
    }

    /// A GET of `url` with the partner token. Only URLs under the source's registered
    /// address are followed: a document that names another host gets no request, so
    /// the token never leaves for a host the replica was not told to trust.
    pub(super) fn request(&self, url: &str) -> Result<reqwest::RequestBuilder, String> {
        let url = self.rebase(url);
        if !is_under(&url, &self.base) {
            return Err(format!(
                "{url} is not under the source's address {}; a replica follows no link elsewhere",
                self.base
            ));
        }
        let r = self.client.get(url);
        Ok(match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        })
    }

    /// A whole document (list, inventory, sidecar). A connection error or a 5xx answer
    /// is tried again a few times: a busy source, or a kept-alive connection the source
    /// closed just as it was reused, must not fail the pull.
    pub(super) async fn bytes(&self, url: &str) -> Result<Bytes, String> {
        let mut last_error = String::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            let r = match self.request(url)?.send().await {
                Ok(r) => r,
                Err(e) => {
                    last_error = format!("{url}: {e}");
                    continue;
                }
            };
            let status = r.status();
            if status.is_server_error() {
                last_error = format!("{url}: {status}");
                continue;
            }
            if !status.is_success() {
                return Err(format!("{url}: {status}"));
            }
            match r.bytes().await {
                Ok(body) => return Ok(body),
                Err(e) => last_error = format!("{url}: {e}"),
            }
        }
        Err(last_error)
    }

    pub(super) async fn document(&self, url: &str) -> Result<Document, String> {
        let body = self.bytes(url).await?;
        parse_document(&body).map_err(|e| format!("{url}: {e}"))
    }

    /// Learns the base URL the source's documents use, from its source description.
    pub(super) async fn discover(&self) -> Result<(), String> {
        let doc = self
            .document(&format!(
                "{}{}",
                self.base,
                crate::federation::resourcesync::SOURCE_DESCRIPTION
            ))
            .await?;
        let advertised = doc.items.iter().find_map(|i| {
            i.loc
                .strip_suffix(crate::federation::resourcesync::CAPABILITY_LIST)
                .map(str::to_string)
        });
        *self
            .advertised
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = advertised;
        Ok(())
    }

    pub(super) fn object_url(&self, dataset: i64, path: &str) -> String {
        objects::file_url(&self.base, dataset, path)
    }

    /// An inventory (root or version) and its digest, checked against its sidecar.
    pub(super) async fn inventory(
        &self,
        dataset: i64,
        path: &str,
    ) -> Result<(Bytes, String), String> {
        let bytes = self.bytes(&self.object_url(dataset, path)).await?;
        let sidecar = self
            .bytes(&self.object_url(dataset, &format!("{path}.sha256")))
            .await?;
        let expected =
            parse_sidecar(&sidecar).ok_or_else(|| format!("{path}: malformed sidecar"))?;
        let digest = hex::encode(Sha256::digest(&bytes));
        if digest != expected {
            return Err(format!(
                "{path} of dataset {dataset}: sha256 {digest} does not match its sidecar {expected}"
            ));
        }
        Ok((bytes, digest))
    }
}
