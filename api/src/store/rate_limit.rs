//! Per-key rate limits, exact across replicas: one counter row per key and fixed one-minute
//! window, spent in the same transaction that stores the messages. [`lock_windows`] locks
//! the counters of a batch's keys and reads them, [`Window::take`] decides each message in
//! turn, [`spend`] writes what was taken: the row lock serialises concurrent batches of one
//! key on every replica, so a batch never overshoots the limit, and a rolled back batch
//! gives its units back.
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

/// The answer of [`Window::take`].
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

/// A key's counter in the current window, locked by [`lock_windows`] until the transaction
/// ends; [`take`](Self::take) spends from it in memory and [`spend`] writes the total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The key.
    pub key_id: i64,
    count: i32,
    reset: i64,
    taken: i32,
}

impl Window {
    /// Spends one unit if `limit` allows it; the status is the one this message's answer
    /// shows, as if the messages of the batch had come one after the other.
    pub fn take(&mut self, limit: i32) -> Decision {
        if self.count < limit {
            self.count += 1;
            self.taken += 1;
            Decision::Allowed(status(limit, self.count, self.reset))
        } else {
            Decision::Refused(status(limit, self.count, self.reset))
        }
    }
}

/// Locks the current-window counters of these keys (creating missing ones at 0) and
/// reads them, one window per distinct key. Keys are locked in id order, so concurrent
/// batches cannot deadlock on them.
pub async fn lock_windows(
    conn: &mut PgConnection,
    key_ids: &[i64],
) -> Result<Vec<Window>, sqlx::Error> {
    let mut key_ids = key_ids.to_vec();
    key_ids.sort_unstable();
    key_ids.dedup();
    let rows = sqlx::query!(
        r#"INSERT INTO rate_limit_windows AS w (key_id, window_start, count)
           SELECT key_id, date_trunc('minute', now()), 0
           FROM unnest($1::bigint[]) AS k(key_id) ORDER BY key_id
           ON CONFLICT (key_id, window_start) DO UPDATE SET count = w.count
           RETURNING w.key_id, w.count,
                     ceil(extract(epoch FROM w.window_start + interval '1 minute' - now()))::bigint
                       AS "reset!""#,
        &key_ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| Window {
            key_id: row.key_id,
            count: row.count,
            reset: row.reset,
            taken: 0,
        })
        .collect())
}

/// Writes what [`Window::take`] spent from windows locked by [`lock_windows`].
pub async fn spend(conn: &mut PgConnection, windows: &[Window]) -> Result<(), sqlx::Error> {
    let (key_ids, taken): (Vec<i64>, Vec<i32>) = windows
        .iter()
        .filter(|w| w.taken > 0)
        .map(|w| (w.key_id, w.taken))
        .unzip();
    if key_ids.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"UPDATE rate_limit_windows w SET count = w.count + t.taken
           FROM unnest($1::bigint[], $2::int[]) AS t(key_id, taken)
           WHERE w.key_id = t.key_id AND w.window_start = date_trunc('minute', now())"#,
        &key_ids,
        &taken,
    )
    .execute(conn)
    .await?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_takes_up_to_its_limit_then_refuses() {
        let mut window = Window {
            key_id: 1,
            count: 1,
            reset: 30,
            taken: 0,
        };
        let remaining: Vec<Decision> = (0..3).map(|_| window.take(3)).collect();
        let at = |remaining| RateLimitStatus {
            limit: 3,
            remaining,
            reset_after_secs: 30,
        };
        assert_eq!(
            remaining,
            [
                Decision::Allowed(at(1)),
                Decision::Allowed(at(0)),
                Decision::Refused(at(0))
            ]
        );
        assert_eq!(window.taken, 2);
    }

    #[test]
    fn a_lowered_limit_refuses_and_shows_nothing_left() {
        let mut window = Window {
            key_id: 1,
            count: 10,
            reset: 0,
            taken: 0,
        };
        assert_eq!(
            window.take(5),
            Decision::Refused(RateLimitStatus {
                limit: 5,
                remaining: 0,
                reset_after_secs: 1
            })
        );
    }
}
