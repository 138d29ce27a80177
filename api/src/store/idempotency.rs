//! `Idempotency-Key` records. The first request with a key inserts its record in the same
//! transaction as the message, so a concurrent repeat waits on the unique index and then
//! sees the stored answer; a failed request leaves no record and may be retried.

use serde_json::Value;
use sqlx::PgConnection;

/// What to do with a request that carries an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// First time: go ahead and [`complete`] in the same transaction.
    Fresh,
    /// Seen with the same body: answer this again.
    Replay {
        /// HTTP status of the first answer.
        status: u16,
        /// Body of the first answer.
        body: Value,
    },
    /// Seen with another body.
    Conflict,
}

/// Claims `idempotency_key` for this key and request hash.
pub async fn claim(
    conn: &mut PgConnection,
    key_id: i64,
    idempotency_key: &str,
    request_hash: &[u8],
) -> Result<Claim, sqlx::Error> {
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO idempotency_records (key_id, idempotency_key, request_hash)
           VALUES ($1, $2, $3)
           ON CONFLICT (key_id, idempotency_key) DO NOTHING
           RETURNING key_id"#,
        key_id,
        idempotency_key,
        request_hash,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_some() {
        return Ok(Claim::Fresh);
    }
    let record = sqlx::query!(
        r#"SELECT request_hash, response_status, response_body FROM idempotency_records
           WHERE key_id = $1 AND idempotency_key = $2"#,
        key_id,
        idempotency_key,
    )
    .fetch_one(conn)
    .await?;
    Ok(
        match (
            record.request_hash == request_hash,
            record.response_status,
            record.response_body,
        ) {
            (true, Some(status), Some(body)) => Claim::Replay {
                status: u16::try_from(status).unwrap_or(200),
                body,
            },
            _ => Claim::Conflict,
        },
    )
}

/// Stores the answer of a [`Claim::Fresh`] request.
pub async fn complete(
    conn: &mut PgConnection,
    key_id: i64,
    idempotency_key: &str,
    status: u16,
    body: &Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE idempotency_records SET response_status = $3, response_body = $4
           WHERE key_id = $1 AND idempotency_key = $2"#,
        key_id,
        idempotency_key,
        i16::try_from(status).unwrap_or(500),
        body,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes records older than `max_age_secs`; a later request with such a key is new.
pub async fn delete_older_than(
    conn: &mut PgConnection,
    max_age_secs: f64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM idempotency_records WHERE created_at < now() - make_interval(secs => $1)",
        max_age_secs
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
