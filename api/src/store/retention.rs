//! What retention deletes: finished messages (with their history) and dead letters older
//! than the retention period, one bounded batch per call. A batch claims its rows with
//! `FOR UPDATE SKIP LOCKED`, so replicas purging at once share the work and a row some
//! other transaction holds (a late delivery report being applied) is left for the next
//! batch instead of waited for. Sends never wait for a purge: they insert new rows, which
//! no purge touches.

use sqlx::PgConnection;

/// Deletes up to `batch` finished messages (`sent` or later: nothing will change them
/// any more) created more than `days` days ago, oldest first, and their history; returns
/// how many messages.
pub async fn purge_messages(
    conn: &mut PgConnection,
    days: u32,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        r#"WITH doomed AS (
               SELECT id FROM messages
               WHERE status IN ('sent', 'delivered', 'undelivered', 'failed', 'expired',
                                'canceled', 'received')
                 AND created_at < now() - make_interval(days => $1)
               ORDER BY created_at
               LIMIT $2
               FOR UPDATE SKIP LOCKED)
           DELETE FROM messages m USING doomed WHERE m.id = doomed.id"#,
        i32::try_from(days).unwrap_or(i32::MAX),
        batch,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes up to `batch` dead letters kept more than `days` days ago; returns how many.
pub async fn purge_dead_letters(
    conn: &mut PgConnection,
    days: u32,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        r#"WITH doomed AS (
               SELECT id FROM dead_letters
               WHERE created_at < now() - make_interval(days => $1)
               ORDER BY created_at
               LIMIT $2
               FOR UPDATE SKIP LOCKED)
           DELETE FROM dead_letters d USING doomed WHERE d.id = doomed.id"#,
        i32::try_from(days).unwrap_or(i32::MAX),
        batch,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
