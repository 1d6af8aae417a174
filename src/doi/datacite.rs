//! DataCite's REST API (https://support.datacite.org/docs/api-create-dois): JSON:API
//! documents of type `dois`, `POST /dois` to create, `PUT /dois/{doi}` to update (with
//! `event` publish, register or hide), `DELETE /dois/{doi}` for drafts; HTTP basic
//! authentication with the repository id and password. The metadata travels as DataCite
//! XML, base64-encoded in `attributes.xml`, the same document the archive serves.

use async_trait::async_trait;
use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::provider::{DoiChange, DoiProvider, ProviderError};
use super::{DoiEvent, DoiState};
use crate::config::{DataciteSettings, Secret};
use crate::http_client::{self, Peer};

/// JSON:API's media type, which DataCite requires on requests with a body.
pub const JSONAPI: &str = "application/vnd.api+json";

/// The longest error text kept from an answer (it is stored and shown on pages).
const MAX_MESSAGE: usize = 400;

/// Characters escaped when a DOI is put in the URL path (its `/` stays).
const DOI_PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

pub struct DataciteClient {
    http: reqwest::Client,
    base: String,
    repository: String,
    password: Secret,
}

impl DataciteClient {
    pub fn new(settings: &DataciteSettings, archive_url: &str) -> anyhow::Result<DataciteClient> {
        let http = http_client::client(Peer::Api, Some(archive_url))
            .map_err(|e| anyhow::anyhow!("cannot build the DataCite HTTP client: {e}"))?;
        Ok(DataciteClient {
            http,
            base: settings.url.clone(),
            repository: settings.repository.clone(),
            password: settings.password.clone(),
        })
    }

    fn doi_url(&self, doi: &str) -> String {
        format!("{}/dois/{}", self.base, utf8_percent_encode(doi, DOI_PATH))
    }

    /// Sends one request; answers with the status and the JSON body (Null when empty).
    async fn send(
        &self,
        method: Method,
        url: String,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), ProviderError> {
        let mut request = self
            .http
            .request(method, url)
            .basic_auth(&self.repository, Some(self.password.expose()))
            .header(reqwest::header::ACCEPT, JSONAPI);
        if let Some(body) = body {
            let bytes = serde_json::to_vec(&body)
                .map_err(|e| ProviderError::BadAnswer(format!("request body: {e}")))?;
            request = request
                .header(reqwest::header::CONTENT_TYPE, JSONAPI)
                .body(bytes);
        }
        let response = request
            .send()
            .await
            .map_err(|e| unavailable(&self.base, &e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unavailable(&self.base, &e))?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            // Error pages from proxies are HTML; keep their text for the message.
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok((status, value))
    }

    /// `POST /dois`: creates the DOI, in the state the event leads to (draft without one).
    async fn create(
        &self,
        change: &DoiChange,
        event: Option<DoiEvent>,
    ) -> Result<DoiState, ProviderError> {
        let url = format!("{}/dois", self.base);
        self.write(Method::POST, url, change, event).await
    }

    /// `PUT /dois/{doi}`: updates URL and metadata, and the state with an event.
    async fn update(
        &self,
        change: &DoiChange,
        event: Option<DoiEvent>,
    ) -> Result<DoiState, ProviderError> {
        self.write(Method::PUT, self.doi_url(&change.doi), change, event)
            .await
    }

    async fn write(
        &self,
        method: Method,
        url: String,
        change: &DoiChange,
        event: Option<DoiEvent>,
    ) -> Result<DoiState, ProviderError> {
        let (status, body) = self
            .send(method, url, Some(request_body(change, event)))
            .await?;
        if status.is_success() {
            return state_in(&body);
        }
        Err(error_for(status, &body))
    }

    /// `GET /dois/{doi}`: the DOI's state at DataCite, None when it has no such DOI.
    async fn lookup(&self, doi: &str) -> Result<Option<DoiState>, ProviderError> {
        let (status, body) = self.send(Method::GET, self.doi_url(doi), None).await?;
        if status.is_success() {
            return state_in(&body).map(Some);
        }
        match error_for(status, &body) {
            ProviderError::NotFound => Ok(None),
            other => Err(other),
        }
    }
}

#[async_trait]
impl DoiProvider for DataciteClient {
    fn name(&self) -> &'static str {
        "datacite"
    }

    async fn register(&self, change: &DoiChange) -> Result<DoiState, ProviderError> {
        let event = change.event_from(change.known)?;
        let first = match change.known {
            None => self.create(change, event).await,
            Some(_) => self.update(change, event).await,
        };
        match first {
            // An earlier attempt created it and its answer was lost: ask DataCite where
            // it stands and move it on from there.
            Err(ProviderError::AlreadyExists) => {
                let actual = self.lookup(&change.doi).await?;
                let event = change.event_from(actual)?;
                self.update(change, event).await
            }
            // DataCite has no such DOI (another provider, or a test account reset).
            Err(ProviderError::NotFound) => {
                let event = change.event_from(None)?;
                self.create(change, event).await
            }
            other => other,
        }
    }

    async fn delete(&self, doi: &str, known: Option<DoiState>) -> Result<(), ProviderError> {
        if let Some(state @ (DoiState::Findable | DoiState::Registered)) = known {
            return Err(ProviderError::Rejected {
                status: 405,
                message: format!("a {} DOI cannot be deleted", state.as_str()),
            });
        }
        let (status, body) = self.send(Method::DELETE, self.doi_url(doi), None).await?;
        if status.is_success() {
            return Ok(());
        }
        match error_for(status, &body) {
            ProviderError::NotFound => Ok(()),
            other => Err(other),
        }
    }
}

/// The JSON:API document for a create or update.
pub fn request_body(change: &DoiChange, event: Option<DoiEvent>) -> Value {
    let mut attributes = Map::new();
    attributes.insert("doi".into(), json!(change.doi));
    attributes.insert("prefix".into(), json!(change.prefix()));
    attributes.insert("suffix".into(), json!(change.suffix()));
    if let Some(event) = event {
        attributes.insert("event".into(), json!(event.as_str()));
    }
    if let Some(url) = &change.url {
        attributes.insert("url".into(), json!(url));
    }
    if let Some(xml) = &change.xml {
        attributes.insert(
            "xml".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(xml.as_bytes())),
        );
    }
    json!({
        "data": {
            "id": change.doi,
            "type": "dois",
            "attributes": attributes,
        }
    })
}

/// `data.attributes.state` of a DataCite answer.
fn state_in(body: &Value) -> Result<DoiState, ProviderError> {
    let state = body["data"]["attributes"]["state"]
        .as_str()
        .ok_or_else(|| {
            ProviderError::BadAnswer(format!(
                "no data.attributes.state in {}",
                shorten(&body.to_string())
            ))
        })?;
    DoiState::parse(state)
        .ok_or_else(|| ProviderError::BadAnswer(format!("unknown DOI state '{state}'")))
}

/// Reads DataCite's JSON:API errors (`{"errors": [{"source", "title"}]}`).
fn error_for(status: StatusCode, body: &Value) -> ProviderError {
    let titles: Vec<String> = body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| {
                    let title = e["title"].as_str()?;
                    Some(match e["source"].as_str() {
                        Some(source) if !source.is_empty() => format!("{source}: {title}"),
                        _ => title.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let message = if titles.is_empty() {
        match body {
            Value::Null => status
                .canonical_reason()
                .unwrap_or("no explanation")
                .to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    } else {
        titles.join("; ")
    };
    let message = shorten(message.trim());
    match status {
        StatusCode::NOT_FOUND => ProviderError::NotFound,
        StatusCode::UNPROCESSABLE_ENTITY if message.contains("already been taken") => {
            ProviderError::AlreadyExists
        }
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
            ProviderError::Unavailable(format!("it answered {s}: {message}"))
        }
        s => ProviderError::Rejected {
            status: s.as_u16(),
            message,
        },
    }
}

/// A transport failure, with its causes (reqwest's own message leaves them out).
fn unavailable(base: &str, e: &reqwest::Error) -> ProviderError {
    let what = if e.is_timeout() {
        // A call that takes longer than the API client allows counts as DataCite down.
        let waited = Peer::Api.total_timeout().unwrap_or_default().as_secs();
        format!("no answer from {base} within {waited} s")
    } else if e.is_connect() {
        format!("could not connect to {base}")
    } else {
        format!("talking to {base} failed")
    };
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    let detail = causes.last().cloned().unwrap_or_else(|| e.to_string());
    ProviderError::Unavailable(shorten(&format!("{what} ({detail})")))
}

fn shorten(s: &str) -> String {
    if s.len() <= MAX_MESSAGE {
        return s.to_string();
    }
    let mut end = MAX_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_jsonapi_dois_with_base64_xml() {
        let change = DoiChange {
            doi: "10.5072/abcd-efgh".into(),
            target: DoiState::Findable,
            known: None,
            url: Some("https://archive.example/datasets/1".into()),
            xml: Some("<resource/>".into()),
        };
        let body = request_body(&change, Some(DoiEvent::Publish));
        assert_eq!(body["data"]["type"], "dois");
        assert_eq!(body["data"]["id"], "10.5072/abcd-efgh");
        let a = &body["data"]["attributes"];
        assert_eq!(a["doi"], "10.5072/abcd-efgh");
        assert_eq!(a["prefix"], "10.5072");
        assert_eq!(a["suffix"], "abcd-efgh");
        assert_eq!(a["event"], "publish");
        assert_eq!(a["url"], "https://archive.example/datasets/1");
        let xml = base64::engine::general_purpose::STANDARD
            .decode(a["xml"].as_str().unwrap_or(""))
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        assert_eq!(xml.as_deref(), Ok("<resource/>"));

        let draft = DoiChange {
            target: DoiState::Draft,
            url: None,
            xml: None,
            ..change
        };
        let a = &request_body(&draft, None)["data"]["attributes"];
        assert!(a.get("event").is_none() && a.get("xml").is_none() && a.get("url").is_none());
    }

    #[test]
    fn answers_and_errors_are_read() {
        let ok = json!({"data": {"id": "10.5072/x", "type": "dois", "attributes": {"state": "findable"}}});
        assert_eq!(state_in(&ok), Ok(DoiState::Findable));
        assert!(matches!(
            state_in(&json!({"data": {}})),
            Err(ProviderError::BadAnswer(_))
        ));
        let taken =
            json!({"errors": [{"source": "doi", "title": "This DOI has already been taken"}]});
        assert_eq!(
            error_for(StatusCode::UNPROCESSABLE_ENTITY, &taken),
            ProviderError::AlreadyExists
        );
        let bad = json!({"errors": [{"source": "url", "title": "Can't be blank"}]});
        assert_eq!(
            error_for(StatusCode::UNPROCESSABLE_ENTITY, &bad),
            ProviderError::Rejected {
                status: 422,
                message: "url: Can't be blank".into()
            }
        );
        assert_eq!(
            error_for(StatusCode::NOT_FOUND, &Value::Null),
            ProviderError::NotFound
        );
        match error_for(StatusCode::SERVICE_UNAVAILABLE, &Value::Null) {
            ProviderError::Unavailable(m) => assert!(m.contains("503"), "{m}"),
            other => panic!("{other:?}"),
        }
        match error_for(StatusCode::UNAUTHORIZED, &json!("<html>nope</html>")) {
            ProviderError::Rejected { status, message } => {
                assert_eq!(status, 401);
                assert!(message.contains("nope"));
            }
            other => panic!("{other:?}"),
        }
        let long = "é".repeat(MAX_MESSAGE);
        assert!(shorten(&long).len() <= MAX_MESSAGE + '…'.len_utf8());
    }
}
