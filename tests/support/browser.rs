//! A browser: a client that keeps cookies, reads CSRF tokens off pages and submits forms.
//! It does not follow redirects: journeys look at them.

use reqwest::{header, redirect, Client, Response, StatusCode};

use super::{Error, TestResult};

#[derive(Clone)]
pub struct Browser {
    pub client: Client,
    pub base: String,
}

pub fn csrf_in(html: &str) -> Option<String> {
    let re = regex::Regex::new(r#"name="csrf_token" value="([^"]+)""#).ok()?;
    re.captures(html).map(|c| c[1].to_string())
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            client: Client::builder()
                .cookie_store(true)
                .redirect(redirect::Policy::none())
                .pool_idle_timeout(super::IDLE_CONNECTION)
                .build()
                .expect("client builds"),
            base: base.to_string(),
        }
    }

    /// A browser on another machine: its connections come from `ip` (any address of
    /// 127.0.0.0/8 reaches the test server).
    pub fn from_address(base: &str, ip: std::net::IpAddr) -> Browser {
        Browser {
            client: Client::builder()
                .cookie_store(true)
                .redirect(redirect::Policy::none())
                .pool_idle_timeout(super::IDLE_CONNECTION)
                .local_address(ip)
                .build()
                .expect("client builds"),
            base: base.to_string(),
        }
    }

    /// The same browser (its cookies) on another server: a second node behind one URL.
    pub fn on(&self, base: &str) -> Browser {
        Browser {
            client: self.client.clone(),
            base: base.to_string(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Result<Response> {
        self.client.get(self.url(path)).send().await
    }

    pub async fn get_text(&self, path: &str) -> Result<(StatusCode, String), Error> {
        let r = self.get(path).await?;
        let status = r.status();
        Ok((status, r.text().await?))
    }

    /// A page that must answer 200; its HTML.
    pub async fn page(&self, path: &str) -> Result<String, Error> {
        let (status, html) = self.get_text(path).await?;
        if status != StatusCode::OK {
            return Err(format!("GET {path}: {status}\n{html}").into());
        }
        Ok(html)
    }

    /// Fetches the page to get a CSRF token, as a browser showing the form would.
    pub async fn csrf(&self, page: &str) -> Result<String, Error> {
        let (_, html) = self.get_text(page).await?;
        csrf_in(&html).ok_or_else(|| format!("no csrf token on {page}").into())
    }

    /// Submits a form with the page's CSRF token.
    pub async fn post_form(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Result<Response, Error> {
        let token = self.csrf(page).await?;
        let mut all: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        Ok(self.client.post(self.url(action)).form(&all).send().await?)
    }

    pub async fn sign_up(&self, name: &str, email: &str, password: &str) -> TestResult {
        let r = self
            .post_form(
                "/signup",
                "/signup",
                &[("name", name), ("email", email), ("password", password)],
            )
            .await?;
        expect_redirect(&r, "/datasets/mine")
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> TestResult {
        let r = self
            .post_form(
                "/signin",
                "/signin",
                &[("email", email), ("password", password)],
            )
            .await?;
        expect_redirect(&r, "/datasets/mine")
    }

    /// Creates a dataset through the form; returns its id.
    pub async fn create_dataset(&self, fields: &[(&str, &str)]) -> Result<i64, Error> {
        let r = self.post_form("/datasets/new", "/datasets", fields).await?;
        let location = expect_redirect_prefix(&r, "/datasets/")?;
        Ok(location.trim_start_matches("/datasets/").parse()?)
    }

    /// Uploads files through the multipart form of a draft page.
    pub async fn upload(
        &self,
        dataset_id: i64,
        folder: &str,
        unpack: bool,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<Response, Error> {
        let token = self.csrf(&format!("/datasets/{dataset_id}")).await?;
        let mut form = reqwest::multipart::Form::new()
            .text("csrf_token", token)
            .text("folder", folder.to_string());
        if unpack {
            form = form.text("unpack", "1");
        }
        for (name, bytes) in files {
            form = form.part(
                "files",
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            );
        }
        Ok(self
            .client
            .post(self.url(&format!("/datasets/{dataset_id}/files")))
            .multipart(form)
            .send()
            .await?)
    }
}

pub fn location(r: &Response) -> Option<String> {
    r.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub fn expect_redirect(r: &Response, to: &str) -> TestResult {
    if r.status() != StatusCode::SEE_OTHER || location(r).as_deref() != Some(to) {
        return Err(format!(
            "expected 303 to {to}, got {} to {:?}",
            r.status(),
            location(r)
        )
        .into());
    }
    Ok(())
}

pub fn expect_redirect_prefix(r: &Response, prefix: &str) -> Result<String, Error> {
    match location(r) {
        Some(l) if r.status() == StatusCode::SEE_OTHER && l.starts_with(prefix) => Ok(l),
        other => Err(format!("expected 303 to {prefix}…, got {} to {other:?}", r.status()).into()),
    }
}
