//! The dispatch queue: outbound messages whose send command is due, claimed with
//! `FOR UPDATE SKIP LOCKED` so that any number of API replicas share the work without
//! sending one command twice at once. A claimed message becomes `dispatched` and is due
//! again after a backoff, until the agent's `accepted` event clears `next_dispatch_at`
//! (see [`super::events::apply_status`]): a lost command or a lost broker session only
//! delays a message, it never loses it (DESIGN §2).
//!
//! Only sites whose agent is online get commands (an offline branch keeps its messages
//! `queued` until it returns), and each site has at most a window of commands waiting for
//! the agent's `accepted`, so a long queue reaches a branch as a steady stream. Cancel
//! requests for messages an agent may hold are claimed the same way.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// First re-dispatch delay, in seconds; doubled after every dispatch.
pub const FIRST_RETRY_SECS: f64 = 10.0;
/// Longest re-dispatch delay, in seconds.
pub const MAX_RETRY_SECS: f64 = 300.0;

/// A send command to publish.
#[derive(Debug, Clone)]
pub struct DueMessage {
    /// Message id.
    pub id: Uuid,
    /// Site whose agent gets the command.
    pub site_id: Option<String>,
    /// Modem asked for, if any.
    pub modem_id: Option<String>,
    /// Recipient, E.164.
    pub phone: String,
    /// Text.
    pub content: String,
    /// Priority.
    pub priority: i16,
    /// Whether a delivery report is asked for.
    pub delivery_report: bool,
    /// Give up after this.
    pub expires_at: Option<OffsetDateTime>,
    /// Times the command was published, this one included.
    pub dispatches: i32,
}

/// Marks messages that never left the API and whose `expires_at` passed as `expired`.
/// Messages already dispatched are left to the agent, which may have them and reports
/// `expired` itself when it gets the command too late.
pub async fn expire_undispatched(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let expired = sqlx::query_scalar!(
        r#"UPDATE messages
           SET status = 'expired', expired_at = now(), next_dispatch_at = NULL, updated_at = now()
           WHERE status IN ('pending', 'queued') AND expires_at <= now()
           RETURNING id"#,
    )
    .fetch_all(&mut *conn)
    .await?;
    record_api_events(conn, &expired, "expired").await?;
    Ok(expired.len() as u64)
}

/// Appends one API event (UUID v7 ids, like every event id) per message.
async fn record_api_events(
    conn: &mut PgConnection,
    messages: &[Uuid],
    state: &str,
) -> Result<(), sqlx::Error> {
    if messages.is_empty() {
        return Ok(());
    }
    let event_ids: Vec<Uuid> = messages.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query!(
        r#"INSERT INTO message_events (event_id, message_id, state, source, at, applied)
           SELECT e, m, $3, 'api', now(), true FROM unnest($1::uuid[], $2::uuid[]) AS u(e, m)"#,
        &event_ids,
        messages,
        state,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims up to `batch` due messages of online sites, highest priority first, leaving
/// each site at most `window` commands waiting for the agent, and marks them `dispatched`
/// with their next retry time. Publish them after the commit.
pub async fn claim_due(
    conn: &mut PgConnection,
    batch: i64,
    window: i64,
) -> Result<Vec<DueMessage>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"WITH ready AS (
               SELECT s.id, greatest(0, $4::int8 - (
                   SELECT count(*) FROM messages f
                   WHERE f.site_id = s.id AND f.status = 'dispatched'
                     AND f.next_dispatch_at > now())) AS room
               FROM sites s WHERE s.presence = 'online'
           ),
           candidates AS (
               SELECT c.id FROM ready r CROSS JOIN LATERAL (
                   SELECT m.id FROM messages m
                   WHERE m.site_id = r.id AND m.status IN ('pending', 'queued', 'dispatched')
                     AND m.next_dispatch_at <= now()
                   ORDER BY m.priority DESC, m.next_dispatch_at
                   LIMIT r.room
               ) c
           ),
           due AS (
               SELECT id FROM messages
               WHERE id IN (SELECT id FROM candidates)
                 AND status IN ('pending', 'queued', 'dispatched') AND next_dispatch_at <= now()
               ORDER BY priority DESC, next_dispatch_at
               LIMIT $1
               FOR UPDATE SKIP LOCKED
           )
           UPDATE messages m SET
               status = 'dispatched',
               dispatched_at = coalesce(m.dispatched_at, now()),
               dispatches = m.dispatches + 1,
               next_dispatch_at = now() + make_interval(
                   secs => least($3::float8, $2::float8 * power(2, m.dispatches))),
               updated_at = now()
           FROM due WHERE m.id = due.id
           RETURNING m.id, m.site_id, m.modem_id, m.phone, m.content, m.priority,
                     m.delivery_report, m.expires_at, m.dispatches,
                     (m.dispatches = 1) AS "first!""#,
        batch,
        FIRST_RETRY_SECS,
        MAX_RETRY_SECS,
        window,
    )
    .fetch_all(&mut *conn)
    .await?;
    let first: Vec<Uuid> = rows.iter().filter(|r| r.first).map(|r| r.id).collect();
    record_api_events(conn, &first, "dispatched").await?;
    Ok(rows
        .into_iter()
        .map(|r| DueMessage {
            id: r.id,
            site_id: r.site_id,
            modem_id: r.modem_id,
            phone: r.phone,
            content: r.content,
            priority: r.priority,
            delivery_report: r.delivery_report,
            expires_at: r.expires_at,
            dispatches: r.dispatches,
        })
        .collect())
}

/// What became of a cancel request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRequest {
    /// Recorded now: the dispatcher will publish `command/cancel`.
    Recorded,
    /// Already requested earlier.
    AlreadyRequested,
}

/// Records that the owner wants a message canceled which its site's agent may already
/// hold (`dispatched` or `accepted`, locked by the caller): its send command is no longer
/// re-published, and `command/cancel` goes out until the agent answers. The history shows
/// `cancel_requested` (not applied: the message's state is the agent's to change).
pub async fn request_cancel(
    conn: &mut PgConnection,
    message: Uuid,
) -> Result<CancelRequest, sqlx::Error> {
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO cancel_requests (message_id, site_id)
           SELECT id, site_id FROM messages WHERE id = $1 AND site_id IS NOT NULL
           ON CONFLICT (message_id) DO NOTHING
           RETURNING message_id"#,
        message,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_none() {
        return Ok(CancelRequest::AlreadyRequested);
    }
    sqlx::query!(
        "UPDATE messages SET next_dispatch_at = NULL, updated_at = now() WHERE id = $1",
        message
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"INSERT INTO message_events (event_id, message_id, state, source, at, applied)
           VALUES ($1, $2, 'cancel_requested', 'api', now(), false)"#,
        Uuid::now_v7(),
        message,
    )
    .execute(conn)
    .await?;
    Ok(CancelRequest::Recorded)
}

/// A `command/cancel` to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCancel {
    /// The message.
    pub id: Uuid,
    /// Its site.
    pub site_id: String,
}

/// Claims up to `batch` due cancel requests and schedules their next publication with
/// backoff; requests whose message the agent has settled (canceled, sending or further)
/// are deleted instead. Publish the returned ones after the commit.
pub async fn claim_cancels(
    conn: &mut PgConnection,
    batch: i64,
) -> Result<Vec<DueCancel>, sqlx::Error> {
    sqlx::query!(
        r#"DELETE FROM cancel_requests c USING messages m
           WHERE m.id = c.message_id AND m.status NOT IN ('dispatched', 'accepted')"#,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query_as!(
        DueCancel,
        r#"WITH due AS (
               SELECT message_id FROM cancel_requests
               WHERE next_at <= now()
               ORDER BY next_at
               LIMIT $1
               FOR UPDATE SKIP LOCKED
           )
           UPDATE cancel_requests c SET
               publishes = c.publishes + 1,
               next_at = now() + make_interval(
                   secs => least($3::float8, $2::float8 * power(2, c.publishes)))
           FROM due WHERE c.message_id = due.message_id
           RETURNING c.message_id AS id, c.site_id"#,
        batch,
        FIRST_RETRY_SECS,
        MAX_RETRY_SECS,
    )
    .fetch_all(conn)
    .await
}
