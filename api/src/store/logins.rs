//! Counters of admin login attempts, per user name and per client address (see
//! [`crate::domain::lockout`]). [`charge`] counts an attempt before its password is
//! checked, under the row locks of both counters, so that concurrent attempts on any
//! number of replicas are counted one by one and none slips past a lock-out; [`forget`]
//! clears them after a success.

use sqlx::PgPool;

use crate::domain::lockout::{FORGET_AFTER, LockoutPolicy, PER_ADDRESS, PER_USER};

/// Longest subject kept (user names have at most 100 characters; longer ones are cut).
const MAX_SUBJECT_CHARS: usize = 100;

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// Counted: check the password, then [`forget`] if it matches.
    Allowed,
    /// Locked out: try again in this many seconds (at least 1). Nothing was counted.
    Locked {
        /// Seconds until the longer of the two locks ends.
        retry_after_secs: u64,
    },
}

fn subject(text: &str) -> String {
    let cut: String = text.chars().take(MAX_SUBJECT_CHARS).collect();
    if cut.is_empty() { "-".to_owned() } else { cut }
}

/// Counts a login attempt for `username` from `address`, unless either is locked out.
pub async fn charge(db: &PgPool, username: &str, address: &str) -> Result<Charge, sqlx::Error> {
    let counters: [(&str, String, LockoutPolicy); 2] = [
        ("address", subject(address), PER_ADDRESS),
        ("user", subject(username), PER_USER),
    ];
    let kinds: Vec<&str> = counters.iter().map(|c| c.0).collect();
    let subjects: Vec<String> = counters.iter().map(|c| c.1.clone()).collect();
    let mut tx = db.begin().await?;
    sqlx::query!(
        r#"INSERT INTO login_attempts (kind, subject)
           SELECT * FROM unnest($1::text[], $2::text[])
           ON CONFLICT (kind, subject) DO NOTHING"#,
        &kinds as &[&str],
        &subjects,
    )
    .execute(&mut *tx)
    .await?;
    // Locked in a fixed order (kind, then subject), so that attempts cannot deadlock.
    let rows = sqlx::query!(
        r#"SELECT kind, failures,
                  last_at < now() - make_interval(secs => $3) AS "stale!",
                  ceil(extract(epoch FROM locked_until - now()))::bigint AS locked_for
           FROM login_attempts
           WHERE (kind, subject) IN (SELECT * FROM unnest($1::text[], $2::text[]))
           ORDER BY kind, subject
           FOR UPDATE"#,
        &kinds as &[&str],
        &subjects,
        FORGET_AFTER.as_secs_f64(),
    )
    .fetch_all(&mut *tx)
    .await?;
    let locked_for = rows
        .iter()
        .filter(|r| !r.stale)
        .filter_map(|r| r.locked_for)
        .max()
        .unwrap_or(0);
    if locked_for > 0 {
        tx.commit().await?;
        return Ok(Charge::Locked {
            retry_after_secs: u64::try_from(locked_for).unwrap_or(1).max(1),
        });
    }
    let mut failures = Vec::new();
    let mut locks = Vec::new();
    for (kind, _, policy) in &counters {
        let before = rows
            .iter()
            .find(|r| r.kind == *kind)
            .map(|r| if r.stale { 0 } else { r.failures })
            .unwrap_or(0);
        let now = u32::try_from(before).unwrap_or(0).saturating_add(1);
        failures.push(i32::try_from(now).unwrap_or(i32::MAX));
        locks.push(policy.lock_after(now).map(|d| d.as_secs_f64()));
    }
    sqlx::query!(
        r#"UPDATE login_attempts a
           SET failures = u.failures, last_at = now(),
               locked_until = now() + make_interval(secs => u.lock)
           FROM unnest($1::text[], $2::text[], $3::int[], $4::float8[])
                AS u(kind, subject, failures, lock)
           WHERE a.kind = u.kind AND a.subject = u.subject"#,
        &kinds as &[&str],
        &subjects,
        &failures,
        &locks as &[Option<f64>],
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Charge::Allowed)
}

/// Forgets the attempts of `username` and of `address` after a successful login.
pub async fn forget(db: &PgPool, username: &str, address: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"DELETE FROM login_attempts
           WHERE (kind = 'user' AND subject = $1) OR (kind = 'address' AND subject = $2)"#,
        subject(username),
        subject(address),
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes counters that are forgotten anyway and lock nothing; returns how many.
pub async fn delete_stale(conn: &mut sqlx::PgConnection) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        r#"DELETE FROM login_attempts
           WHERE last_at < now() - make_interval(secs => $1)
             AND (locked_until IS NULL OR locked_until < now())"#,
        FORGET_AFTER.as_secs_f64(),
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
