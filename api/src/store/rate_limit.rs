//! Per-key rate limits, exact across replicas: one counter row per key and fixed one-minute
//! window, incremented in the same transaction that stores the message. The row lock of
//! the increment serialises concurrent sends of one key on every replica, and a rolled
//! back send gives its unit back.
//!
//! What is counted: accepted messages. Other authenticated requests show the budget in
//! their headers without spending it.

use sqlx::PgConnection;

/// The state of a key's budget, as the `X-RateLimit-*` headers show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// Messages per window.
    pub limit: u32,
    /// Messages left in the current window.
    pub remaining: u32,
    /// Seconds until the window resets (at least 1).
    pub reset_after_secs: u64,
}

/// The answer of [`consume`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// One unit was spent.
    Allowed(RateLimitStatus),
    /// The window is used up; nothing was spent.
    Refused(RateLimitStatus),
}

fn status(limit: i32, count: i32, reset: i64) -> RateLimitStatus {
    RateLimitStatus {
        limit: u32::try_from(limit).unwrap_or(0),
        remaining: u32::try_from(limit.saturating_sub(count)).unwrap_or(0),
        reset_after_secs: u64::try_from(reset).unwrap_or(0).max(1),
    }
}

/// Spends one unit of the key's budget, if any is left.
pub async fn consume(
    conn: &mut PgConnection,
    key_id: i64,
    limit: i32,
) -> Result<Decision, sqlx::Error> {
    let spent = sqlx::query!(
        r#"INSERT INTO rate_limit_windows AS w (key_id, window_start, count)
           VALUES ($1, date_trunc('minute', now()), 1)
           ON CONFLICT (key_id, window_start) DO UPDATE SET count = w.count + 1
               WHERE w.count < $2
           RETURNING w.count,
                     ceil(extract(epoch FROM w.window_start + interval '1 minute' - now()))::bigint
                       AS "reset!""#,
        key_id,
        limit,
    )
    .fetch_optional(&mut *conn)
    .await?;
    match spent {
        Some(row) => Ok(Decision::Allowed(status(limit, row.count, row.reset))),
        None => Ok(Decision::Refused(peek(conn, key_id, limit).await?)),
    }
}

/// The key's budget without spending any.
pub async fn peek(
    conn: &mut PgConnection,
    key_id: i64,
    limit: i32,
) -> Result<RateLimitStatus, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT coalesce((SELECT count FROM rate_limit_windows
                             WHERE key_id = $1 AND window_start = date_trunc('minute', now())),
                           0) AS "count!",
                  ceil(extract(epoch FROM date_trunc('minute', now()) + interval '1 minute' - now()))::bigint
                    AS "reset!""#,
        key_id,
    )
    .fetch_one(conn)
    .await?;
    Ok(status(limit, row.count, row.reset))
}

/// Deletes the counters of windows that have ended; returns how many.
pub async fn delete_ended_windows(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM rate_limit_windows WHERE window_start < date_trunc('minute', now())"
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
