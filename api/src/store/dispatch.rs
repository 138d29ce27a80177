//! The dispatch queue: outbound messages whose send command is due, claimed with
//! `FOR UPDATE SKIP LOCKED` so that any number of API replicas share the work without
//! sending one command twice at once. A claimed message becomes `dispatched` and is due
//! again after a backoff, until the agent's `accepted` event clears `next_dispatch_at`
//! (see [`super::events::apply_status`]): a lost command or a lost broker session only
//! delays a message, it never loses it (DESIGN §2).

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

/// Claims up to `batch` due messages, highest priority first, and marks them
/// `dispatched` with their next retry time. Publish them after the commit.
pub async fn claim_due(
    conn: &mut PgConnection,
    batch: i64,
) -> Result<Vec<DueMessage>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"WITH due AS (
               SELECT id FROM messages
               WHERE status IN ('queued', 'dispatched') AND next_dispatch_at <= now()
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
