//! A client of `hilink-sim`'s control API (`/sim/`, see `hilink::sim`): the ground truth
//! of what the simulated network sent (the ledger), inbound SMS, and the faults a real
//! modem has — busy, expired sessions, unreachable. It speaks in the simulator's own
//! types, so the two cannot drift apart.

use std::time::Duration;

use hilink::sim::{Availability, InboundOutcome, LedgerEntry, SendFault};
use serde_json::json;

use crate::E2eError;

/// The control API of one simulated modem.
#[derive(Debug, Clone)]
pub struct SimControl {
    base: String,
    http: reqwest::Client,
}

impl SimControl {
    /// The control API at `base` (`http://127.0.0.1:port`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: crate::api::http_client(Duration::from_secs(10)),
        }
    }

    /// Its address.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn command(&self, path: &str, body: serde_json::Value) -> Result<(), E2eError> {
        let response = self
            .http
            .post(format!("{}/sim/{path}", self.base))
            .json(&body)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(E2eError::Unexpected(format!(
                "POST /sim/{path}: HTTP {}",
                response.status()
            )));
        }
        Ok(())
    }

    /// Every SMS the simulated network accepted, in order.
    pub async fn ledger(&self) -> Result<Vec<LedgerEntry>, E2eError> {
        Ok(self
            .http
            .get(format!("{}/sim/ledger", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// Whether the control API answers.
    pub async fn answers(&self) -> bool {
        matches!(
            self.http.get(format!("{}/sim/state", self.base)).send().await,
            Ok(r) if r.status().is_success()
        )
    }

    /// An SMS from `from` arrives at the modem.
    pub async fn inject_inbound(&self, from: &str, text: &str) -> Result<InboundOutcome, E2eError> {
        Ok(self
            .http
            .post(format!("{}/sim/inbound", self.base))
            .json(&json!({ "from": from, "text": text }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// The next `count` sends fail with `fault`.
    pub async fn fail_sends(&self, count: usize, fault: SendFault) -> Result<(), E2eError> {
        self.command("fail-sends", json!({ "count": count, "fault": fault }))
            .await
    }

    /// Every session ends: the next request with an old cookie gets 125002.
    pub async fn expire_sessions(&self) -> Result<(), E2eError> {
        self.command("expire-sessions", json!({})).await
    }

    /// The device becomes unreachable (`Refuse` or `Hang`), for `duration` if given.
    pub async fn offline(
        &self,
        mode: Availability,
        duration: Option<Duration>,
    ) -> Result<(), E2eError> {
        let duration_ms = duration.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.command(
            "offline",
            json!({ "mode": mode, "duration_ms": duration_ms }),
        )
        .await
    }

    /// The device answers again.
    pub async fn online(&self) -> Result<(), E2eError> {
        self.command("online", json!({})).await
    }
}
