//! A client of the HTTP API with one API key, as an application uses it: the seed-style
//! `X-API-Key` header and JSON bodies, answers kept as JSON so that tests check the
//! contract's field names rather than a Rust mirror of them.

use std::time::Duration;

use serde_json::Value;
use smsgw_shared::MessageState;

use crate::{E2eError, eventually};

/// An HTTP answer: its status and JSON body (`Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Value,
}

impl Answer {
    /// The body when the status is `expected`, else an error with both.
    pub fn expect_status(self, expected: u16) -> Result<Value, E2eError> {
        if self.status == expected {
            return Ok(self.body);
        }
        Err(E2eError::Unexpected(format!(
            "HTTP {} (wanted {expected}): {}",
            self.status, self.body
        )))
    }
}

/// The state of a message as the API shows it.
pub fn state_of(message: &Value) -> Result<MessageState, E2eError> {
    message["status"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| E2eError::Unexpected(format!("no valid status in {message}")))
}

/// The id of a message as the API shows it.
pub fn id_of(message: &Value) -> Result<String, E2eError> {
    message["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| E2eError::Unexpected(format!("no id in {message}")))
}

/// An HTTP client whose requests give up after `timeout`.
pub(crate) fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap_or_default()
}

/// The API at `base` with one key.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl ApiClient {
    /// A client of the API at `base` (`http://127.0.0.1:port`) with `key`.
    pub fn new(base: &str, key: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            http: http_client(Duration::from_secs(30)),
        }
    }

    /// The API's address.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn answer(request: reqwest::RequestBuilder) -> Result<Answer, E2eError> {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header("X-API-Key", &self.key)
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .header("X-API-Key", &self.key)
    }

    /// `POST /api/v1/messages` with `body`.
    pub async fn send(&self, body: &Value) -> Result<Answer, E2eError> {
        Self::answer(self.post("/api/v1/messages").json(body)).await
    }

    /// `POST /api/v1/messages` that must answer 201; returns the new message's id and
    /// the message.
    pub async fn create(&self, body: &Value) -> Result<(String, Value), E2eError> {
        let created = self.send(body).await?.expect_status(201)?;
        Ok((id_of(&created)?, created))
    }

    /// `POST /api/v1/messages` with an `Idempotency-Key`: what a client that retries
    /// after a lost answer sends.
    pub async fn send_once(&self, idempotency_key: &str, body: &Value) -> Result<Answer, E2eError> {
        Self::answer(
            self.post("/api/v1/messages")
                .header("Idempotency-Key", idempotency_key)
                .json(body),
        )
        .await
    }

    /// `GET /api/v1/messages/{id}`.
    pub async fn message(&self, id: &str) -> Result<Answer, E2eError> {
        Self::answer(self.get(&format!("/api/v1/messages/{id}"))).await
    }

    /// `GET /api/v1/messages?{query}`.
    pub async fn list(&self, query: &str) -> Result<Answer, E2eError> {
        Self::answer(self.get(&format!("/api/v1/messages?{query}"))).await
    }

    /// Every message of the key matching `query`, following the cursor page by page.
    pub async fn list_all(&self, query: &str) -> Result<Vec<Value>, E2eError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = format!("{query}&limit=500");
            if let Some(c) = &cursor {
                q.push_str(&format!("&cursor={c}"));
            }
            let page = self.list(&q).await?.expect_status(200)?;
            if let Some(messages) = page["messages"].as_array() {
                all.extend(messages.iter().cloned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(all),
            }
        }
    }

    /// `POST /api/v1/messages/{id}/cancel`.
    pub async fn cancel(&self, id: &str) -> Result<Answer, E2eError> {
        Self::answer(self.post(&format!("/api/v1/messages/{id}/cancel"))).await
    }

    /// `GET /api/v1/sites/{id}`.
    pub async fn site(&self, id: &str) -> Result<Answer, E2eError> {
        Self::answer(self.get(&format!("/api/v1/sites/{id}"))).await
    }

    /// `GET /readyz` answers 200.
    pub async fn ready(&self) -> bool {
        matches!(
            self.http.get(format!("{}/readyz", self.base)).send().await,
            Ok(r) if r.status().is_success()
        )
    }

    /// Waits until message `id` is in one of `states`; returns it.
    pub async fn wait_state(
        &self,
        id: &str,
        states: &[MessageState],
        within: Duration,
    ) -> Result<Value, E2eError> {
        eventually(
            within,
            &format!("message {id} to be {states:?}"),
            || async {
                let answer = self.message(id).await.map_err(|e| e.to_string())?;
                match state_of(&answer.body) {
                    Ok(state) if states.contains(&state) => Ok(answer.body),
                    _ => Err(format!("HTTP {}: {}", answer.status, answer.body["status"])),
                }
            },
        )
        .await
    }

    /// Waits until site `id` has `presence` (`online` or `offline`).
    pub async fn wait_presence(
        &self,
        id: &str,
        presence: &str,
        within: Duration,
    ) -> Result<(), E2eError> {
        eventually(within, &format!("site {id} to be {presence}"), || async {
            let answer = self.site(id).await.map_err(|e| e.to_string())?;
            if answer.body["presence"] == presence {
                Ok(())
            } else {
                Err(format!(
                    "HTTP {}: {}",
                    answer.status, answer.body["presence"]
                ))
            }
        })
        .await
    }
}
