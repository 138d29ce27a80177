//! One incoming MQTT message, applied to the database in one transaction. Returns the
//! event id to acknowledge (`command/ack`) once committed. Malformed payloads are an error
//! value for the caller to log, count and acknowledge at the MQTT level — never a panic,
//! never a stuck loop (DESIGN §7).
//!
//! No poison loops: an event the database refuses for good (a data or constraint error,
//! see [`store::is_refusal`]) or that does not decode but names its event id is kept as a
//! dead letter ([`store::dead_letters`]) and acknowledged like an applied one, so that the
//! agent stops publishing it. Only a database out of reach leaves an event unacknowledged,
//! to come again.

use smsgw_shared::{
    ids::{EventId, SiteId},
    topic::{TopicError, TopicKind, Topics},
    wire::{DecodeError, WireMessage},
};
use sqlx::PgPool;

use crate::store::{self, dead_letters::DeadLetter, events};

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
    // What cannot be applied ever: the event id to acknowledge, why, and the metric label.
    let (event_id, reason, cause) = match WireMessage::decode(kind, payload) {
        Ok(message) => match apply(db, &site, kind, &message).await {
            Err(IngestError::Database(e)) if store::is_refusal(&e) => match event_id_of(&message) {
                Some(event_id) => (event_id, e.to_string(), "refused"),
                None => return Err(IngestError::Database(e)),
            },
            other => return other,
        },
        Err(e) => match lenient_event_id(kind, payload) {
            Some(event_id) => (event_id, e.to_string(), "payload"),
            None => return Err(e.into()),
        },
    };
    let letter = Letter {
        site: &site,
        topic,
        kind,
        event_id,
        payload,
    };
    dead_letter(db, letter, &reason, cause).await
}

/// The event id of an event.
fn event_id_of(message: &WireMessage) -> Option<EventId> {
    match message {
        WireMessage::Status(event) => Some(event.event_id),
        WireMessage::Inbound(event) => Some(event.event_id),
        _ => None,
    }
}

/// The event id of an event payload that does not decode, if it names a valid one.
fn lenient_event_id(kind: TopicKind, payload: &[u8]) -> Option<EventId> {
    if !matches!(kind, TopicKind::EventStatus | TopicKind::EventInbound) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    serde_json::from_value(value.get("event_id")?.clone()).ok()
}

/// An event that cannot be applied.
struct Letter<'a> {
    site: &'a SiteId,
    topic: &'a str,
    kind: TopicKind,
    event_id: EventId,
    payload: &'a [u8],
}

/// Keeps an event that can never be applied and says to acknowledge it. `cause` labels
/// the metric: `refused` (by the database) or `payload` (does not decode).
async fn dead_letter(
    db: &PgPool,
    letter: Letter<'_>,
    reason: &str,
    cause: &'static str,
) -> Result<Ingested, IngestError> {
    let kept = store::dead_letters::record(
        db,
        DeadLetter {
            site: letter.site.as_str(),
            topic: letter.topic,
            kind: letter.kind.suffix(),
            event_id: letter.event_id.as_uuid(),
            payload: letter.payload,
            reason,
        },
    )
    .await?;
    if kept {
        tracing::warn!(topic = %letter.topic, event_id = %letter.event_id, %reason, "event kept as a dead letter and acknowledged");
        metrics::counter!("smsgw_dead_letters_total", "kind" => letter.kind.suffix(), "cause" => cause)
            .increment(1);
    }
    metrics::counter!("smsgw_mqtt_ingested_total", "kind" => letter.kind.suffix(), "outcome" => "dead_letter")
        .increment(1);
    Ok(Ingested {
        site: letter.site.clone(),
        ack: Some(letter.event_id),
        outcome: "dead_letter",
    })
}

/// Applies a decoded message in one transaction.
async fn apply(
    db: &PgPool,
    site: &SiteId,
    kind: TopicKind,
    message: &WireMessage,
) -> Result<Ingested, IngestError> {
    let mut tx = db.begin().await?;
    let mut transition = None;
    let (ack, outcome) = match message {
        WireMessage::Status(event) => {
            let outcome = match events::apply_status(&mut tx, site, event).await? {
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
            let outcome = match events::store_inbound(&mut tx, site, event).await? {
                events::InboundOutcome::Stored(_) => "stored",
                events::InboundOutcome::Duplicate => "duplicate",
            };
            (Some(event.event_id), outcome)
        }
        WireMessage::Conn(state) => {
            let applied = events::apply_presence(&mut tx, site, state).await?;
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
                store::sites::replace_modems(&mut tx, site, session, state.at, &modems).await?;
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
    Ok(Ingested {
        site: site.clone(),
        ack,
        outcome,
    })
}
