//! Per-key rate limits, exact across replicas: one counter row per key and fixed one-minute
//! window, spent in the same transaction that stores the messages. [`spend`] takes what a
//! batch of messages needs from each key's window and [`Grant::take`] hands it out message
//! by message. The row lock of the counter serialises concurrent batches of one key on
//! every replica and lasts until the commit, so a batch never overshoots the limit, and a
//! rolled back batch gives its units back.
//!
//! What is counted: accepted messages. Other authenticated requests show the budget in
//! their headers without spending it.

use std::collections::BTreeMap;

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

/// The answer of [`Grant::take`].
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

/// What [`spend`] took from a key's window for a batch, to be handed out in the batch's
/// order with [`take`](Self::take).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The key.
    pub key_id: i64,
    /// The count before the next message this grant hands out.
    count: i32,
    /// Units taken and not yet handed out.
    left: i32,
    /// Seconds until the window ends.
    reset: i64,
}

impl Grant {
    /// Hands one unit to the next message of the key, if any is left; the status is the one
    /// that message's answer shows, as if the batch's messages had come one after another.
    pub fn take(&mut self, limit: i32) -> Decision {
        if self.left > 0 {
            self.left -= 1;
            self.count += 1;
            Decision::Allowed(status(limit, self.count, self.reset))
        } else {
            Decision::Refused(status(limit, self.count, self.reset))
        }
    }
}

/// Takes from the current window of each key one unit per message of `messages` (their
/// keys and limits), as many as the key's limit allows; one [`Grant`] per distinct key.
/// The counters stay locked until the transaction ends.
///
/// One statement takes everything when every key has room for all of its messages, the
/// usual case; keys without room are then read and charged exactly what is left. Keys are
/// locked in id order, so concurrent batches cannot deadlock on them.
pub async fn spend(
    conn: &mut PgConnection,
    messages: &[(i64, i32)],
) -> Result<Vec<Grant>, sqlx::Error> {
    // key -> (limit, messages)
    let mut wanted: BTreeMap<i64, (i32, i32)> = BTreeMap::new();
    for &(key_id, limit) in messages {
        let want = wanted.entry(key_id).or_insert((limit, 0));
        want.1 += 1;
    }
    let key_ids: Vec<i64> = wanted.keys().copied().collect();
    let limits: Vec<i32> = wanted.values().map(|w| w.0).collect();
    let counts: Vec<i32> = wanted.values().map(|w| w.1).collect();
    // All or nothing per key. A row that cannot take all is left as it is, but locked.
    let taken = sqlx::query!(
        r#"INSERT INTO rate_limit_windows AS w (key_id, window_start, count)
           SELECT key_id, date_trunc('minute', now()), n
           FROM unnest($1::bigint[], $2::int[], $3::int[]) AS t(key_id, lim, n)
           WHERE n <= lim
           ORDER BY key_id
           ON CONFLICT (key_id, window_start) DO UPDATE SET count = w.count + excluded.count
               WHERE w.count + excluded.count
                     <= (SELECT t.lim FROM unnest($1::bigint[], $2::int[]) AS t(key_id, lim)
                         WHERE t.key_id = w.key_id)
           RETURNING w.key_id, w.count,
                     ceil(extract(epoch FROM w.window_start + interval '1 minute' - now()))::bigint
                       AS "reset!""#,
        &key_ids,
        &limits,
        &counts,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut grants: Vec<Grant> = taken
        .into_iter()
        .map(|row| {
            let n = wanted.remove(&row.key_id).map_or(0, |w| w.1);
            Grant {
                key_id: row.key_id,
                count: row.count - n,
                left: n,
                reset: row.reset,
            }
        })
        .collect();
    if !wanted.is_empty() {
        grants.extend(spend_what_is_left(conn, &wanted).await?);
    }
    Ok(grants)
}

/// The exact path of [`spend`], for keys whose windows cannot take all their messages.
async fn spend_what_is_left(
    conn: &mut PgConnection,
    wanted: &BTreeMap<i64, (i32, i32)>,
) -> Result<Vec<Grant>, sqlx::Error> {
    let key_ids: Vec<i64> = wanted.keys().copied().collect();
    let current = sqlx::query!(
        r#"INSERT INTO rate_limit_windows AS w (key_id, window_start, count)
           SELECT key_id, date_trunc('minute', now()), 0
           FROM unnest($1::bigint[]) AS k(key_id) ORDER BY key_id
           ON CONFLICT (key_id, window_start) DO UPDATE SET count = w.count
           RETURNING w.key_id, w.count,
                     ceil(extract(epoch FROM w.window_start + interval '1 minute' - now()))::bigint
                       AS "reset!""#,
        &key_ids,
    )
    .fetch_all(&mut *conn)
    .await?;
    let grants: Vec<Grant> = current
        .into_iter()
        .map(|row| {
            let (limit, n) = wanted.get(&row.key_id).copied().unwrap_or((0, 0));
            Grant {
                key_id: row.key_id,
                count: row.count,
                left: limit.saturating_sub(row.count).clamp(0, n),
                reset: row.reset,
            }
        })
        .collect();
    let (key_ids, taken): (Vec<i64>, Vec<i32>) = grants
        .iter()
        .filter(|g| g.left > 0)
        .map(|g| (g.key_id, g.left))
        .unzip();
    if !key_ids.is_empty() {
        sqlx::query!(
            r#"UPDATE rate_limit_windows w SET count = w.count + t.taken
               FROM unnest($1::bigint[], $2::int[]) AS t(key_id, taken)
               WHERE w.key_id = t.key_id AND w.window_start = date_trunc('minute', now())"#,
            &key_ids,
            &taken,
        )
        .execute(conn)
        .await?;
    }
    Ok(grants)
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
    fn a_grant_hands_out_what_it_took_then_refuses() {
        let mut grant = Grant {
            key_id: 1,
            count: 1,
            left: 2,
            reset: 30,
        };
        let decisions: Vec<Decision> = (0..3).map(|_| grant.take(3)).collect();
        let at = |remaining| RateLimitStatus {
            limit: 3,
            remaining,
            reset_after_secs: 30,
        };
        assert_eq!(
            decisions,
            [
                Decision::Allowed(at(1)),
                Decision::Allowed(at(0)),
                Decision::Refused(at(0))
            ]
        );
    }

    #[test]
    fn a_lowered_limit_refuses_and_shows_nothing_left() {
        let mut grant = Grant {
            key_id: 1,
            count: 10,
            left: 0,
            reset: 0,
        };
        assert_eq!(
            grant.take(5),
            Decision::Refused(RateLimitStatus {
                limit: 5,
                remaining: 0,
                reset_after_secs: 1
            })
        );
    }
}
