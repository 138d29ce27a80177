//! One incoming MQTT message, applied to the database in one transaction. Returns the
//! event id to acknowledge (`command/ack`) once committed. Malformed payloads are an error
//! value for the caller to log, count and acknowledge at the MQTT level — never a panic,
//! never a stuck loop (DESIGN §7).

use smsgw_shared::{
    ids::{EventId, SiteId},
    topic::{TopicError, Topics},
    wire::{DecodeError, WireMessage},
};
use sqlx::PgPool;

use crate::store::{self, events};

/// Why an incoming message was not applied.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Not a topic of this deployment.
    #[error(transparent)]
    Topic(#[from] TopicError),
    /// The payload does not decode.
    #[error(transparent)]
    Payload(#[from] DecodeError),
    /// A command (our own publication) or another kind the API does not consume.
    #[error("the API does not consume {0} messages")]
    NotConsumed(&'static str),
    /// The database failed; the event is not acknowledged and will come again.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What was done with an incoming message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// The site it came from.
    pub site: SiteId,
    /// The event to acknowledge, for events (states are retained, not acknowledged).
    pub ack: Option<EventId>,
    /// Short description for logs and metrics: `applied`, `stale`, `duplicate` …
    pub outcome: &'static str,
}

/// Applies the message that arrived on `topic`.
pub async fn handle(
    db: &PgPool,
    topics: &Topics,
    topic: &str,
    payload: &[u8],
) -> Result<Ingested, IngestError> {
    let (site, kind) = topics.parse(topic)?;
    let message = WireMessage::decode(kind, payload)?;
    let mut tx = db.begin().await?;
    let mut transition = None;
    let (ack, outcome) = match &message {
        WireMessage::Status(event) => {
            let outcome = match events::apply_status(&mut tx, &site, event).await? {
                events::StatusOutcome::Applied => {
                    transition = Some((site.to_string(), event.state.as_str()));
                    "applied"
                }
                events::StatusOutcome::Stale => "stale",
                events::StatusOutcome::Duplicate => "duplicate",
                events::StatusOutcome::Ignored => "ignored",
            };
            (Some(event.event_id), outcome)
        }
        WireMessage::Inbound(event) => {
            let outcome = match events::store_inbound(&mut tx, &site, event).await? {
                events::InboundOutcome::Stored(_) => "stored",
                events::InboundOutcome::Duplicate => "duplicate",
            };
            (Some(event.event_id), outcome)
        }
        WireMessage::Conn(state) => {
            let applied = events::apply_presence(&mut tx, &site, state).await?;
            (None, if applied { "applied" } else { "ignored" })
        }
        WireMessage::Modems(state) => {
            let modems: Vec<(String, serde_json::Value)> = state
                .modems
                .iter()
                .map(|m| {
                    (
                        m.id.to_string(),
                        serde_json::to_value(m).unwrap_or_default(),
                    )
                })
                .collect();
            let session = i64::try_from(state.session).unwrap_or(i64::MAX);
            let applied =
                store::sites::replace_modems(&mut tx, &site, session, state.at, &modems).await?;
            (None, if applied { "applied" } else { "ignored" })
        }
        other => return Err(IngestError::NotConsumed(other.kind().suffix())),
    };
    tx.commit().await?;
    metrics::counter!("smsgw_mqtt_ingested_total", "kind" => kind.suffix(), "outcome" => outcome)
        .increment(1);
    if let Some((site, state)) = transition {
        metrics::counter!("smsgw_message_transitions_total", "site" => site, "state" => state)
            .increment(1);
    }
    Ok(Ingested { site, ack, outcome })
}
