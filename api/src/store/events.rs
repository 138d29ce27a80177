//! What agents report, applied to the database: status events, inbound SMS and presence.
//!
//! Every write here is idempotent, because MQTT delivers at least once and the agent
//! re-publishes events until the API acknowledges them (DESIGN §2): an event id is stored
//! once, a status applies only when it moves the message forward (`can_advance` from
//! smsgw-shared), and a Will of an older agent session never marks a newer one offline.
//! The MQTT ingest loop calls these and acknowledges the event ids after the commit.

use smsgw_shared::{
    ids::{MessageId, SiteId},
    sms::analyze,
    state::{MessageState, can_advance},
    wire::{AGENT_STATES, ConnState, InboundEvent, Presence, StatusEvent},
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::sender::Sender;

/// What became of a status event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOutcome {
    /// The message moved to the event's state.
    Applied,
    /// Recorded in the history, but the message is already further (reordered or late).
    Stale,
    /// This event id was stored before: nothing changed.
    Duplicate,
    /// No such message, or not one of this site: ignored (and acknowledged, since
    /// re-sending it cannot help).
    Ignored,
}

/// Applies a status event from the agent of `site`.
pub async fn apply_status(
    conn: &mut PgConnection,
    site: &SiteId,
    event: &StatusEvent,
) -> Result<StatusOutcome, sqlx::Error> {
    let event_id = event.event_id.as_uuid();
    let message_id = event.id.as_uuid();
    let seen = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM message_events WHERE event_id = $1) AS "seen!""#,
        event_id
    )
    .fetch_one(&mut *conn)
    .await?;
    if seen {
        return Ok(StatusOutcome::Duplicate);
    }
    let Some(current) = sqlx::query!(
        r#"SELECT status, site_id FROM messages
           WHERE id = $1 AND direction = 'outbound' FOR UPDATE"#,
        message_id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(StatusOutcome::Ignored);
    };
    if current.site_id.as_deref() != Some(site.as_str()) {
        return Ok(StatusOutcome::Ignored);
    }
    let from: MessageState = current.status.parse().unwrap_or(MessageState::Failed);
    let applies = AGENT_STATES.contains(&event.state) && can_advance(from, event.state);
    let error = event.error.as_ref();
    let error_code = error.map(|e| {
        serde_json::to_value(e.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned())
    });
    let modem = event.modem.as_ref().map(|m| m.as_str());
    let attempt = i32::try_from(event.attempt).unwrap_or(i32::MAX);
    let error_detail = error.and_then(|e| e.detail.clone());
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO message_events (event_id, message_id, state, source, at, modem_id,
                                       attempt, error_code, error_modem_code, error_retryable,
                                       error_detail, applied)
           VALUES ($1, $2, $3, 'agent', $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (event_id) DO NOTHING
           RETURNING event_id"#,
        event_id,
        message_id,
        event.state.as_str(),
        event.at,
        modem,
        attempt,
        error_code,
        error.and_then(|e| e.modem_code).map(|c| c.to_string()),
        error.map(|e| e.retryable),
        error_detail,
        applies,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_none() {
        return Ok(StatusOutcome::Duplicate);
    }
    if !applies {
        return Ok(StatusOutcome::Stale);
    }
    sqlx::query!(
        r#"UPDATE messages SET
               status = $2,
               accepted_at = CASE WHEN $2 = 'accepted' THEN coalesce(accepted_at, $3) ELSE accepted_at END,
               sending_at = CASE WHEN $2 = 'sending' THEN coalesce(sending_at, $3) ELSE sending_at END,
               sent_at = CASE WHEN $2 = 'sent' THEN coalesce(sent_at, $3) ELSE sent_at END,
               delivered_at = CASE WHEN $2 = 'delivered' THEN coalesce(delivered_at, $3) ELSE delivered_at END,
               undelivered_at = CASE WHEN $2 = 'undelivered' THEN coalesce(undelivered_at, $3) ELSE undelivered_at END,
               failed_at = CASE WHEN $2 = 'failed' THEN coalesce(failed_at, $3) ELSE failed_at END,
               expired_at = CASE WHEN $2 = 'expired' THEN coalesce(expired_at, $3) ELSE expired_at END,
               canceled_at = CASE WHEN $2 = 'canceled' THEN coalesce(canceled_at, $3) ELSE canceled_at END,
               delivery_report_at = CASE WHEN $2 IN ('delivered', 'undelivered') THEN $3 ELSE delivery_report_at END,
               modem_id = coalesce($4, modem_id),
               attempts = greatest(attempts, $5),
               error_code = coalesce($6, error_code),
               error_detail = coalesce($7, error_detail),
               next_dispatch_at = NULL,
               updated_at = now()
           WHERE id = $1"#,
        message_id,
        event.state.as_str(),
        event.at,
        modem,
        attempt,
        error_code,
        error_detail,
    )
    .execute(conn)
    .await?;
    Ok(StatusOutcome::Applied)
}

/// What became of an inbound event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundOutcome {
    /// Stored as a new `received` message with this id.
    Stored(Uuid),
    /// This event id was stored before.
    Duplicate,
}

/// Stores an SMS received at a modem of `site`, once per event id.
pub async fn store_inbound(
    conn: &mut PgConnection,
    site: &SiteId,
    event: &InboundEvent,
) -> Result<InboundOutcome, sqlx::Error> {
    // A number is kept in E.164 (so that filters by phone find it), a sender name as
    // given; whatever else the network sent is stored too, kept raw beside.
    let sender = Sender::normalize(&event.from);
    let info = analyze(&event.text);
    let id = MessageId::new().as_uuid();
    let stored = sqlx::query_scalar!(
        r#"INSERT INTO messages (id, direction, site_id, modem_id, phone, content, encoding,
                                 segments, status, received_at, created_at, event_id,
                                 sender_raw)
           VALUES ($1, 'inbound', $2, $3, $4, $5, $6, $7, 'received', $8, now(), $9, $10)
           ON CONFLICT (event_id) DO NOTHING
           RETURNING id"#,
        id,
        site.as_str(),
        event.modem.as_str(),
        sender.phone,
        event.text,
        info.encoding.as_str(),
        i32::try_from(event.segments).unwrap_or(i32::MAX),
        event.received_at,
        event.event_id.as_uuid(),
        sender.raw,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = stored else {
        return Ok(InboundOutcome::Duplicate);
    };
    sqlx::query!(
        r#"INSERT INTO message_events (event_id, message_id, state, source, at, modem_id, applied)
           VALUES ($1, $2, 'received', 'agent', $3, $4, true)"#,
        event.event_id.as_uuid(),
        id,
        event.received_at,
        event.modem.as_str(),
    )
    .execute(conn)
    .await?;
    Ok(InboundOutcome::Stored(id))
}

/// Records an agent's presence. Returns false when it was ignored: an unknown site, or a
/// message of an older session than the one already recorded (a late Will). An agent
/// that comes online gets its unaccepted commands and cancel requests again at once.
pub async fn apply_presence(
    conn: &mut PgConnection,
    site: &SiteId,
    state: &ConnState,
) -> Result<bool, sqlx::Error> {
    let presence = match state.state {
        Presence::Online => "online",
        Presence::Offline => "offline",
    };
    let session = i64::try_from(state.session).unwrap_or(i64::MAX);
    let updated = sqlx::query!(
        r#"UPDATE sites SET presence = $2, session = $3, agent_version = $4, last_seen = now()
           WHERE id = $1 AND session <= $3"#,
        site.as_str(),
        presence,
        session,
        state.agent_version,
    )
    .execute(&mut *conn)
    .await?;
    let applied = updated.rows_affected() == 1;
    if applied && state.state == Presence::Online {
        // A (re)connected agent gets what it may have missed now, not after the backoff.
        sqlx::query!(
            r#"UPDATE messages SET next_dispatch_at = now()
               WHERE site_id = $1 AND status = 'dispatched' AND next_dispatch_at > now()"#,
            site.as_str(),
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query!(
            "UPDATE cancel_requests SET next_at = now() WHERE site_id = $1 AND next_at > now()",
            site.as_str(),
        )
        .execute(conn)
        .await?;
    }
    Ok(applied)
}
