//! Dead letters: agent events the API can never apply — the database refuses them for
//! good (a data or constraint error), or they do not decode — kept with their raw payload
//! and the reason, so that the event can be acknowledged to the agent (ending its
//! re-publication) without being lost, and an operator can look at it
//! (`GET /api/v1/admin/dead-letters`).

use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

/// An event to keep.
#[derive(Debug, Clone, Copy)]
pub struct DeadLetter<'a> {
    /// The site the topic names.
    pub site: &'a str,
    /// The topic it came on.
    pub topic: &'a str,
    /// Its kind, e.g. `event/inbound`.
    pub kind: &'a str,
    /// Its event id (what the agent is told is done).
    pub event_id: Uuid,
    /// The payload, as it came.
    pub payload: &'a [u8],
    /// Why it cannot be applied.
    pub reason: &'a str,
}

/// Keeps an event; returns false when it was kept before (the agent published it again
/// before our acknowledgement reached it).
pub async fn record(db: &PgPool, letter: DeadLetter<'_>) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO dead_letters (site_id, topic, kind, event_id, payload, reason)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (event_id) DO NOTHING
           RETURNING id"#,
        letter.site,
        letter.topic,
        letter.kind,
        letter.event_id,
        letter.payload,
        letter.reason,
    )
    .fetch_optional(db)
    .await?;
    Ok(inserted.is_some())
}

/// A kept event.
#[derive(Debug, Clone)]
pub struct DeadLetterRow {
    /// Row id, newest highest.
    pub id: i64,
    /// The site the topic named.
    pub site_id: String,
    /// The topic.
    pub topic: String,
    /// Its kind.
    pub kind: String,
    /// Its event id.
    pub event_id: Uuid,
    /// The payload as it came.
    pub payload: Vec<u8>,
    /// Why it could not be applied.
    pub reason: String,
    /// When it was kept.
    pub created_at: OffsetDateTime,
}

/// Up to `limit` kept events with an id below `before` (all with `None`), newest first.
pub async fn list(
    db: &PgPool,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<DeadLetterRow>, sqlx::Error> {
    sqlx::query_as!(
        DeadLetterRow,
        r#"SELECT id, site_id, topic, kind, event_id, payload, reason, created_at
           FROM dead_letters
           WHERE $1::bigint IS NULL OR id < $1
           ORDER BY id DESC
           LIMIT $2"#,
        before,
        limit,
    )
    .fetch_all(db)
    .await
}
