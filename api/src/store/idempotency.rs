//! `Idempotency-Key` records. The first request with a key inserts its record in the same
//! transaction as the message, so a concurrent repeat waits on the unique index and then
//! sees the stored answer; a failed request leaves no record and may be retried.
//!
//! Every function takes the requests of a whole batch, so that a group commit spends one
//! round trip per step however many requests it carries.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use sqlx::PgConnection;

/// A request that carries an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The API key's row id: idempotency keys are per API key.
    pub key_id: i64,
    /// The `Idempotency-Key` header.
    pub idempotency_key: String,
    /// Hash of the request body.
    pub request_hash: Vec<u8>,
}

/// What to do with a request that carries an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// First time: go ahead and [`complete`] (or [`release`]) in the same transaction.
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

/// Claims the idempotency keys of `tickets`; the claims come back in the same order. No two
/// tickets may name the same API key and idempotency key (the second would wait for the
/// first's transaction, which is its own). Keys are claimed in a fixed order, so concurrent
/// batches cannot deadlock on them.
pub async fn claim(conn: &mut PgConnection, tickets: &[Ticket]) -> Result<Vec<Claim>, sqlx::Error> {
    let key_ids: Vec<i64> = tickets.iter().map(|t| t.key_id).collect();
    let idempotency_keys: Vec<String> = tickets.iter().map(|t| t.idempotency_key.clone()).collect();
    let hashes: Vec<Vec<u8>> = tickets.iter().map(|t| t.request_hash.clone()).collect();
    let inserted = sqlx::query!(
        r#"INSERT INTO idempotency_records (key_id, idempotency_key, request_hash)
           SELECT key_id, idempotency_key, request_hash
           FROM unnest($1::bigint[], $2::text[], $3::bytea[])
                AS t(key_id, idempotency_key, request_hash)
           ORDER BY key_id, idempotency_key
           ON CONFLICT (key_id, idempotency_key) DO NOTHING
           RETURNING key_id, idempotency_key"#,
        &key_ids,
        &idempotency_keys,
        &hashes,
    )
    .fetch_all(&mut *conn)
    .await?;
    let fresh: HashSet<(i64, String)> = inserted
        .into_iter()
        .map(|r| (r.key_id, r.idempotency_key))
        .collect();
    if fresh.len() == tickets.len() {
        return Ok(vec![Claim::Fresh; tickets.len()]);
    }
    // A later statement sees what the transactions we waited for committed.
    let (seen_ids, seen_keys): (Vec<i64>, Vec<String>) = tickets
        .iter()
        .filter(|t| !fresh.contains(&(t.key_id, t.idempotency_key.clone())))
        .map(|t| (t.key_id, t.idempotency_key.clone()))
        .unzip();
    let records: HashMap<(i64, String), _> = sqlx::query!(
        r#"SELECT r.key_id, r.idempotency_key, r.request_hash, r.response_status, r.response_body
           FROM idempotency_records r
           JOIN unnest($1::bigint[], $2::text[]) AS t(key_id, idempotency_key)
             USING (key_id, idempotency_key)"#,
        &seen_ids,
        &seen_keys,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| ((r.key_id, r.idempotency_key.clone()), r))
    .collect();
    tickets
        .iter()
        .map(|t| {
            let id = (t.key_id, t.idempotency_key.clone());
            if fresh.contains(&id) {
                return Ok(Claim::Fresh);
            }
            // Gone since the insert saw it (expired just now): the caller may try again.
            let record = records.get(&id).ok_or(sqlx::Error::RowNotFound)?;
            Ok(
                match (
                    record.request_hash == t.request_hash,
                    record.response_status,
                    &record.response_body,
                ) {
                    (true, Some(status), Some(body)) => Claim::Replay {
                        status: u16::try_from(status).unwrap_or(200),
                        body: body.clone(),
                    },
                    _ => Claim::Conflict,
                },
            )
        })
        .collect()
}

/// The answer to store for a [`Claim::Fresh`] ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The API key's row id.
    pub key_id: i64,
    /// The `Idempotency-Key` header.
    pub idempotency_key: String,
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Value,
}

/// Stores the answers of [`Claim::Fresh`] tickets.
pub async fn complete(conn: &mut PgConnection, answers: &[Answer]) -> Result<(), sqlx::Error> {
    if answers.is_empty() {
        return Ok(());
    }
    let key_ids: Vec<i64> = answers.iter().map(|a| a.key_id).collect();
    let idempotency_keys: Vec<String> = answers.iter().map(|a| a.idempotency_key.clone()).collect();
    let statuses: Vec<i16> = answers
        .iter()
        .map(|a| i16::try_from(a.status).unwrap_or(500))
        .collect();
    let bodies: Vec<Value> = answers.iter().map(|a| a.body.clone()).collect();
    sqlx::query!(
        r#"UPDATE idempotency_records r
           SET response_status = a.status, response_body = a.body
           FROM unnest($1::bigint[], $2::text[], $3::smallint[], $4::jsonb[])
                AS a(key_id, idempotency_key, status, body)
           WHERE r.key_id = a.key_id AND r.idempotency_key = a.idempotency_key"#,
        &key_ids,
        &idempotency_keys,
        &statuses,
        &bodies,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives back the claims of [`Claim::Fresh`] tickets whose requests were refused, as if
/// they had never come: a batch commits the other requests' work, so it cannot simply roll
/// back.
pub async fn release(conn: &mut PgConnection, tickets: &[Ticket]) -> Result<(), sqlx::Error> {
    if tickets.is_empty() {
        return Ok(());
    }
    let key_ids: Vec<i64> = tickets.iter().map(|t| t.key_id).collect();
    let idempotency_keys: Vec<String> = tickets.iter().map(|t| t.idempotency_key.clone()).collect();
    sqlx::query!(
        r#"DELETE FROM idempotency_records r
           USING unnest($1::bigint[], $2::text[]) AS t(key_id, idempotency_key)
           WHERE r.key_id = t.key_id AND r.idempotency_key = t.idempotency_key"#,
        &key_ids,
        &idempotency_keys,
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
