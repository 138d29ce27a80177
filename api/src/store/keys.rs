//! API keys in the database: created by `smsgw-api keys create` (or the admin API),
//! looked up by their HMAC on every request, revoked by prefix.

use std::collections::HashMap;

use smsgw_shared::ids::SiteId;
use sqlx::{PgExecutor, PgPool};
use time::OffsetDateTime;

use super::{StoreError, violated_constraint};
use crate::domain::api_key::{ApiKeySecret, KeyPepper};

/// A key as stored (never the key itself).
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// Row id; owns messages, counters and idempotency records.
    pub id: i64,
    /// Visible start of the key.
    pub prefix: String,
    /// Who uses it.
    pub name: String,
    /// Messages per minute.
    pub rate_limit: i32,
    /// Where its messages go when they name no site.
    pub default_site: Option<String>,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it was last used (updated at most once a minute).
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// Creates a key and returns it with its record; the key is never retrievable again.
pub async fn create(
    db: &PgPool,
    pepper: &KeyPepper,
    name: &str,
    rate_limit: u32,
    default_site: Option<&SiteId>,
) -> Result<(ApiKeySecret, KeyRecord), StoreError> {
    let secret = ApiKeySecret::generate();
    let rate_limit = i32::try_from(rate_limit).unwrap_or(i32::MAX);
    let record = sqlx::query_as!(
        KeyRecord,
        r#"INSERT INTO api_keys (prefix, hash, name, rate_limit, default_site)
           VALUES ($1, $2, $3, $4, $5)
           RETURNING id, prefix, name, rate_limit, default_site, created_at, last_used_at,
                     revoked_at"#,
        secret.prefix(),
        pepper.hash(&secret),
        name,
        rate_limit,
        default_site.map(SiteId::as_str),
    )
    .fetch_one(db)
    .await
    .map_err(|e| match violated_constraint(&e) {
        Some("api_keys_default_site_fkey") => {
            StoreError::UnknownSite(default_site.map(|s| s.to_string()).unwrap_or_default())
        }
        _ => StoreError::Database(e),
    })?;
    Ok((secret, record))
}

/// Finds keys by HMAC, revoked or not, and notes that they were used, in one round trip
/// for a whole batch of requests. `last_used_at` is written at most once a minute per key
/// (never for a revoked key) and skipped for a key another request is touching right now,
/// so the common case writes nothing and nothing waits; the records show the time before
/// this use. Keys come back by hash; an unknown hash has no entry.
pub async fn find_and_touch(
    conn: impl PgExecutor<'_>,
    hashes: &[Vec<u8>],
) -> Result<HashMap<Vec<u8>, KeyRecord>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"WITH found AS (
               SELECT id, hash, prefix, name, rate_limit, default_site, created_at,
                      last_used_at, revoked_at
               FROM api_keys WHERE hash = ANY($1)),
           touched AS (
               UPDATE api_keys SET last_used_at = now()
               WHERE id IN (SELECT k.id FROM api_keys k JOIN found USING (id)
                            WHERE k.revoked_at IS NULL
                              AND (k.last_used_at IS NULL
                                   OR k.last_used_at < now() - interval '1 minute')
                            FOR NO KEY UPDATE OF k SKIP LOCKED))
           SELECT id AS "id!", hash AS "hash!", prefix AS "prefix!", name AS "name!",
                  rate_limit AS "rate_limit!", default_site, created_at AS "created_at!",
                  last_used_at, revoked_at
           FROM found"#,
        hashes,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let record = KeyRecord {
                id: r.id,
                prefix: r.prefix,
                name: r.name,
                rate_limit: r.rate_limit,
                default_site: r.default_site,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                revoked_at: r.revoked_at,
            };
            (r.hash, record)
        })
        .collect())
}

/// Every key, oldest first.
pub async fn list(db: &PgPool) -> Result<Vec<KeyRecord>, sqlx::Error> {
    sqlx::query_as!(
        KeyRecord,
        r#"SELECT id, prefix, name, rate_limit, default_site, created_at, last_used_at, revoked_at
           FROM api_keys ORDER BY id"#,
    )
    .fetch_all(db)
    .await
}

/// Revokes the key with this prefix; revoking twice keeps the first time.
pub async fn revoke(db: &PgPool, prefix: &str) -> Result<KeyRecord, StoreError> {
    sqlx::query_as!(
        KeyRecord,
        r#"UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE prefix = $1
           RETURNING id, prefix, name, rate_limit, default_site, created_at, last_used_at,
                     revoked_at"#,
        prefix,
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("key {prefix}")))
}
