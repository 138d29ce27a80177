//! Messages and their status history. Every list and lookup is scoped to the asking key
//! ([`Viewer`]): a key sees the messages it sent (with the `read` permission) and the
//! inbound messages of its sites (with `inbound`; see [`crate::domain::key_scope`]).

use std::collections::HashMap;

use serde_json::Value;
use smsgw_shared::{ids::MessageId, state::MessageState};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{key_scope::Sites, listing::ListFilter, new_message::NewMessage};

/// Who is asking, and what they may see.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The key's row id.
    pub key_id: i64,
    /// Whether it sees the messages it sent.
    pub own: bool,
    /// The sites whose inbound messages it sees; `None`: none at all.
    pub inbound: Option<Sites>,
}

impl Viewer {
    /// Whether it sees inbound messages, and of which sites (`None`: every site), as the
    /// queries take them.
    fn inbound_params(&self) -> (bool, Option<Vec<String>>) {
        match &self.inbound {
            None => (false, None),
            Some(sites) => (true, sites.as_list().map(<[String]>::to_vec)),
        }
    }
}

/// A message row: the columns of `messages`, as the migrations define them.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: Uuid,
    pub direction: String,
    pub site_id: Option<String>,
    pub modem_id: Option<String>,
    pub phone: String,
    pub content: String,
    pub encoding: String,
    pub segments: i32,
    pub status: String,
    pub priority: i16,
    pub delivery_report: bool,
    pub expires_at: Option<OffsetDateTime>,
    pub metadata: Option<Value>,
    pub owner_key_id: Option<i64>,
    pub idempotency_key: Option<String>,
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
    pub delivery_report_at: Option<OffsetDateTime>,
    pub attempts: i32,
    pub dispatches: i32,
    pub next_dispatch_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub pending_at: Option<OffsetDateTime>,
    pub queued_at: Option<OffsetDateTime>,
    pub dispatched_at: Option<OffsetDateTime>,
    pub accepted_at: Option<OffsetDateTime>,
    pub sending_at: Option<OffsetDateTime>,
    pub sent_at: Option<OffsetDateTime>,
    pub delivered_at: Option<OffsetDateTime>,
    pub undelivered_at: Option<OffsetDateTime>,
    pub failed_at: Option<OffsetDateTime>,
    pub expired_at: Option<OffsetDateTime>,
    pub canceled_at: Option<OffsetDateTime>,
    pub received_at: Option<OffsetDateTime>,
    pub event_id: Option<Uuid>,
    pub sender_raw: Option<String>,
    pub erased_at: Option<OffsetDateTime>,
}

impl MessageRow {
    /// When the message entered each state it has been in, in the order of the states.
    pub fn state_times(&self) -> Vec<(&'static str, OffsetDateTime)> {
        let all = [
            (MessageState::Pending, self.pending_at),
            (MessageState::Queued, self.queued_at),
            (MessageState::Dispatched, self.dispatched_at),
            (MessageState::Accepted, self.accepted_at),
            (MessageState::Sending, self.sending_at),
            (MessageState::Sent, self.sent_at),
            (MessageState::Delivered, self.delivered_at),
            (MessageState::Undelivered, self.undelivered_at),
            (MessageState::Failed, self.failed_at),
            (MessageState::Expired, self.expired_at),
            (MessageState::Canceled, self.canceled_at),
            (MessageState::Received, self.received_at),
        ];
        all.into_iter()
            .filter_map(|(state, at)| at.map(|at| (state.as_str(), at)))
            .collect()
    }
}

/// One entry of a message's status history (columns of `message_events`).
#[derive(Debug, Clone)]
pub struct EventRow {
    pub event_id: Uuid,
    pub state: String,
    pub source: String,
    pub at: OffsetDateTime,
    pub modem_id: Option<String>,
    pub attempt: Option<i32>,
    pub error_code: Option<String>,
    pub error_detail: Option<String>,
    pub applied: bool,
}

/// An outbound message ready to store: checked, routed and within its key's budget.
#[derive(Debug, Clone, Copy)]
pub struct Outbound<'a> {
    /// The message.
    pub message: &'a NewMessage,
    /// The site it goes through.
    pub site: &'a str,
    /// The key that sent it.
    pub owner_key_id: i64,
    /// Its `Idempotency-Key`, if it came with one.
    pub idempotency_key: Option<&'a str>,
}

/// Stores outbound messages as `queued`, each with the first entry of its history: one
/// statement however many messages a batch holds. The rows come back in the order of
/// `messages`.
pub async fn insert_outbound(
    conn: &mut PgConnection,
    messages: &[Outbound<'_>],
) -> Result<Vec<MessageRow>, sqlx::Error> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = messages
        .iter()
        .map(|_| MessageId::new().as_uuid())
        .collect();
    // The first entry of each history, written by the same statement (its foreign key is
    // checked at the statement's end, when the messages exist).
    let event_ids: Vec<Uuid> = ids.iter().map(|_| Uuid::now_v7()).collect();
    let infos: Vec<_> = messages.iter().map(|m| m.message.text.info()).collect();
    let sites: Vec<&str> = messages.iter().map(|m| m.site).collect();
    let modems: Vec<Option<&str>> = messages
        .iter()
        .map(|m| m.message.modem.as_ref().map(|id| id.as_str()))
        .collect();
    let phones: Vec<&str> = messages.iter().map(|m| m.message.phone.as_str()).collect();
    let texts: Vec<&str> = messages.iter().map(|m| m.message.text.as_str()).collect();
    let encodings: Vec<&str> = infos.iter().map(|i| i.encoding.as_str()).collect();
    let segments: Vec<i32> = infos
        .iter()
        .map(|i| i32::try_from(i.segments).unwrap_or(i32::MAX))
        .collect();
    let priorities: Vec<i16> = messages.iter().map(|m| m.message.priority).collect();
    let reports: Vec<bool> = messages.iter().map(|m| m.message.delivery_report).collect();
    let expiries: Vec<Option<OffsetDateTime>> =
        messages.iter().map(|m| m.message.expires_at).collect();
    let metadata: Vec<Option<&Value>> = messages
        .iter()
        .map(|m| m.message.metadata.as_ref())
        .collect();
    let owners: Vec<i64> = messages.iter().map(|m| m.owner_key_id).collect();
    let idempotency_keys: Vec<Option<&str>> = messages.iter().map(|m| m.idempotency_key).collect();
    let rows = sqlx::query_as!(
        MessageRow,
        r#"WITH history AS (
               INSERT INTO message_events (event_id, message_id, state, source, at, applied)
               SELECT event_id, message_id, 'queued', 'api', now(), true
               FROM unnest($14::uuid[], $1::uuid[]) AS e(event_id, message_id))
           INSERT INTO messages (id, direction, site_id, modem_id, phone, content, encoding,
                                 segments, status, priority, delivery_report, expires_at,
                                 metadata, owner_key_id, idempotency_key, queued_at,
                                 next_dispatch_at)
           SELECT id, 'outbound', site_id, modem_id, phone, content, encoding, segments,
                  'queued', priority, delivery_report, expires_at, metadata, owner_key_id,
                  idempotency_key, now(), now()
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::int[], $8::smallint[], $9::boolean[], $10::timestamptz[],
                       $11::jsonb[], $12::bigint[], $13::text[])
                AS m(id, site_id, modem_id, phone, content, encoding, segments, priority,
                     delivery_report, expires_at, metadata, owner_key_id, idempotency_key)
           RETURNING *"#,
        &ids,
        &sites as &[&str],
        &modems as _,
        &phones as &[&str],
        &texts as &[&str],
        &encodings as &[&str],
        &segments,
        &priorities,
        &reports,
        &expiries as _,
        &metadata as _,
        &owners,
        &idempotency_keys as _,
        &event_ids,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_id: HashMap<Uuid, MessageRow> = rows.into_iter().map(|r| (r.id, r)).collect();
    ids.iter()
        .map(|id| by_id.remove(id).ok_or(sqlx::Error::RowNotFound))
        .collect()
}

/// Deletes messages stored earlier in this transaction and then refused: a batch cannot
/// roll back part of itself. Their history goes with them; nobody else ever saw them.
pub async fn discard(conn: &mut PgConnection, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!("DELETE FROM messages WHERE id = ANY($1)", ids)
        .execute(conn)
        .await?;
    Ok(())
}

/// Appends a status change made by the API itself to a message's history; the change
/// happens at the transaction's time, which is also when the row changed.
async fn record_api_event(
    conn: &mut PgConnection,
    message_id: Uuid,
    state: MessageState,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO message_events (event_id, message_id, state, source, at, applied)
           VALUES ($1, $2, $3, 'api', now(), true)"#,
        Uuid::now_v7(),
        message_id,
        state.as_str(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks an outbound message of this key for a status change; returns its status.
pub async fn lock_owned(
    conn: &mut PgConnection,
    key_id: i64,
    id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT status FROM messages WHERE id = $1 AND owner_key_id = $2 FOR UPDATE",
        id,
        key_id,
    )
    .fetch_optional(conn)
    .await
}

/// Cancels a message (locked with [`lock_owned`]) and records it in the history. The
/// dispatcher publishes a cancel command to the site if the agent already has it.
pub async fn mark_canceled(conn: &mut PgConnection, id: Uuid) -> Result<MessageRow, sqlx::Error> {
    let row = sqlx::query_as!(
        MessageRow,
        r#"UPDATE messages
           SET status = 'canceled', canceled_at = now(), updated_at = now(),
               next_dispatch_at = NULL
           WHERE id = $1
           RETURNING *"#,
        id,
    )
    .fetch_one(&mut *conn)
    .await?;
    record_api_event(conn, id, MessageState::Canceled).await?;
    Ok(row)
}

/// A message the viewer may see.
pub async fn find_visible(
    db: &PgPool,
    viewer: &Viewer,
    id: Uuid,
) -> Result<Option<MessageRow>, sqlx::Error> {
    let (inbound, sites) = viewer.inbound_params();
    sqlx::query_as!(
        MessageRow,
        r#"SELECT * FROM messages m
           WHERE m.id = $1
             AND (($3 AND m.owner_key_id = $2)
                  OR ($4 AND m.direction = 'inbound'
                      AND ($5::text[] IS NULL OR m.site_id = ANY($5))))"#,
        id,
        viewer.key_id,
        viewer.own,
        inbound,
        sites as _,
    )
    .fetch_optional(db)
    .await
}

/// One page of the messages the viewer may see, newest first. Returns up to
/// `filter.limit + 1` rows, so the caller knows whether another page follows.
pub async fn list_visible(
    db: &PgPool,
    viewer: &Viewer,
    filter: &ListFilter,
) -> Result<Vec<MessageRow>, sqlx::Error> {
    let (inbound, sites) = viewer.inbound_params();
    sqlx::query_as!(
        MessageRow,
        r#"SELECT * FROM messages m
           WHERE (($13 AND m.owner_key_id = $1)
                  OR ($14 AND m.direction = 'inbound'
                      AND ($2::text[] IS NULL OR m.site_id = ANY($2))))
             AND ($3::text IS NULL OR m.direction = $3)
             AND ($4::text IS NULL OR m.status = $4)
             AND ($5::text IS NULL OR m.phone = $5)
             AND ($6::text IS NULL OR m.site_id = $6)
             AND ($7::timestamptz IS NULL OR m.created_at >= $7)
             AND ($8::timestamptz IS NULL OR m.created_at < $8)
             AND ($9::timestamptz IS NULL OR (m.created_at, m.id) < ($9, $10::uuid))
           ORDER BY m.created_at DESC, m.id DESC
           LIMIT $11 OFFSET $12"#,
        viewer.key_id,
        sites as _,
        filter.direction.map(|d| d.as_db()),
        filter.status.map(|s| s.as_str()),
        filter.phone.as_ref().map(|p| p.as_str()),
        filter.site.as_ref().map(|s| s.as_str()),
        filter.since,
        filter.until,
        filter.cursor.map(|c| c.created_at),
        filter.cursor.map(|c| c.id),
        filter.limit + 1,
        filter.offset,
        viewer.own,
        inbound,
    )
    .fetch_all(db)
    .await
}

/// What became of an erasure.
#[derive(Debug, Clone)]
pub enum Erasure {
    /// Number, text, client data and raw sender are blank now (or were already); the
    /// message as it is.
    Erased(Box<MessageRow>),
    /// The API may still publish it to a branch (`pending`, `queued`, `dispatched`): its
    /// number and text are still needed. Nothing changed.
    InFlight(String),
    /// No such message.
    Missing,
}

/// Erases a message's number, text, client data and raw sender, keeping its states,
/// times and history as a tombstone. Its idempotent answer, which repeats number and
/// text, becomes `answer(tombstone)` in the same transaction, so that a repeated request
/// gets the tombstone and stores nothing.
pub async fn erase(
    db: &PgPool,
    id: Uuid,
    answer: impl FnOnce(&MessageRow) -> Result<Value, serde_json::Error>,
) -> Result<Erasure, sqlx::Error> {
    let mut tx = db.begin().await?;
    let Some(status) =
        sqlx::query_scalar!("SELECT status FROM messages WHERE id = $1 FOR UPDATE", id)
            .fetch_optional(&mut *tx)
            .await?
    else {
        return Ok(Erasure::Missing);
    };
    if matches!(status.as_str(), "pending" | "queued" | "dispatched") {
        return Ok(Erasure::InFlight(status));
    }
    let row = sqlx::query_as!(
        MessageRow,
        r#"UPDATE messages
           SET phone = '', content = '', metadata = NULL, sender_raw = NULL,
               erased_at = coalesce(erased_at, now()), updated_at = now()
           WHERE id = $1
           RETURNING *"#,
        id,
    )
    .fetch_one(&mut *tx)
    .await?;
    if let (Some(key_id), Some(idempotency_key)) = (row.owner_key_id, &row.idempotency_key) {
        let body = answer(&row).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query!(
            r#"UPDATE idempotency_records SET response_body = $3
               WHERE key_id = $1 AND idempotency_key = $2 AND response_body IS NOT NULL"#,
            key_id,
            idempotency_key,
            body,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Erasure::Erased(Box::new(row)))
}

/// The status history of a message, oldest first.
pub async fn history(db: &PgPool, message_id: Uuid) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as!(
        EventRow,
        r#"SELECT event_id, state, source, at, modem_id, attempt, error_code, error_detail, applied
           FROM message_events WHERE message_id = $1 ORDER BY at, event_id"#,
        message_id,
    )
    .fetch_all(db)
    .await
}
