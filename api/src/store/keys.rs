//! API keys in the database: created by `smsgw-api keys create` (or the admin API),
//! looked up by their HMAC on every request, revoked by prefix.

use std::collections::HashMap;

use sqlx::{PgConnection, PgExecutor, PgPool};
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::{
    FieldError,
    api_key::{ApiKeySecret, KeyPepper},
    key_scope::KeyScope,
};

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
    /// The sites it may use; `None`: every site.
    pub sites: Option<Vec<String>>,
    /// What it may do (see [`KeyScope`]).
    pub permissions: Vec<String>,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it was last used (updated at most once a minute).
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

impl KeyRecord {
    /// Its sites, default site and permissions.
    pub fn scope(&self) -> KeyScope {
        KeyScope::from_stored(
            self.sites.clone(),
            self.default_site.clone(),
            &self.permissions,
        )
    }
}

/// Refuses a scope naming a site that is not registered (sites are never deleted, so the
/// check stays true).
async fn check_sites_exist(conn: &mut PgConnection, scope: &KeyScope) -> Result<(), StoreError> {
    let mut named: Vec<String> = scope
        .sites
        .as_list()
        .map(<[String]>::to_vec)
        .unwrap_or_default();
    named.extend(scope.default_site.clone());
    if named.is_empty() {
        return Ok(());
    }
    let unknown = sqlx::query_scalar!(
        r#"SELECT s AS "site!" FROM unnest($1::text[]) AS s
           WHERE NOT EXISTS (SELECT 1 FROM sites WHERE id = s)
           ORDER BY s LIMIT 1"#,
        &named,
    )
    .fetch_optional(&mut *conn)
    .await?;
    match unknown {
        None => Ok(()),
        Some(site) => {
            let field = match scope.sites.as_list() {
                Some(listed) if listed.contains(&site) => "sites",
                _ => "site",
            };
            Err(StoreError::Invalid(FieldError::new(
                "unknown_site",
                field,
                format!("site {site:?} is not registered"),
            )))
        }
    }
}

/// Creates a key and returns it with its record; the key is never retrievable again.
pub async fn create(
    db: &PgPool,
    pepper: &KeyPepper,
    name: &str,
    rate_limit: u32,
    scope: &KeyScope,
) -> Result<(ApiKeySecret, KeyRecord), StoreError> {
    let secret = ApiKeySecret::generate();
    let rate_limit = i32::try_from(rate_limit).unwrap_or(i32::MAX);
    let mut tx = db.begin().await?;
    check_sites_exist(&mut tx, scope).await?;
    let record = sqlx::query_as!(
        KeyRecord,
        r#"INSERT INTO api_keys (prefix, hash, name, rate_limit, default_site, sites, permissions)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           RETURNING id, prefix, name, rate_limit, default_site, sites, permissions,
                     created_at, last_used_at, revoked_at"#,
        secret.prefix(),
        pepper.hash(&secret),
        name,
        rate_limit,
        scope.default_site.as_deref(),
        scope.sites.as_list() as _,
        &scope.permission_names(),
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((secret, record))
}

/// What [`update`] sets on a key.
#[derive(Debug, Clone)]
pub struct KeyEdit {
    /// Who uses it.
    pub name: String,
    /// Messages per minute.
    pub rate_limit: u32,
    /// Its sites, default site and permissions.
    pub scope: KeyScope,
}

/// Changes the key with this prefix: `edit` gets the record as it is (locked, so that
/// concurrent changes apply one after the other) and says what it becomes, or why not.
/// A revoked key can be changed too (it stays revoked). Takes effect with the next request.
pub async fn update(
    db: &PgPool,
    prefix: &str,
    edit: impl FnOnce(&KeyRecord) -> Result<KeyEdit, FieldError>,
) -> Result<KeyRecord, StoreError> {
    let mut tx = db.begin().await?;
    let current = sqlx::query_as!(
        KeyRecord,
        r#"SELECT id, prefix, name, rate_limit, default_site, sites, permissions, created_at,
                  last_used_at, revoked_at
           FROM api_keys WHERE prefix = $1 FOR UPDATE"#,
        prefix,
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("key {prefix}")))?;
    let change = edit(&current).map_err(StoreError::Invalid)?;
    check_sites_exist(&mut tx, &change.scope).await?;
    let record = sqlx::query_as!(
        KeyRecord,
        r#"UPDATE api_keys
           SET name = $2, rate_limit = $3, default_site = $4, sites = $5, permissions = $6
           WHERE id = $1
           RETURNING id, prefix, name, rate_limit, default_site, sites, permissions,
                     created_at, last_used_at, revoked_at"#,
        current.id,
        change.name,
        i32::try_from(change.rate_limit).unwrap_or(i32::MAX),
        change.scope.default_site.as_deref(),
        change.scope.sites.as_list() as _,
        &change.scope.permission_names(),
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(record)
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
               SELECT id, hash, prefix, name, rate_limit, default_site, sites, permissions,
                      created_at, last_used_at, revoked_at
               FROM api_keys WHERE hash = ANY($1)),
           touched AS (
               UPDATE api_keys SET last_used_at = now()
               WHERE id IN (SELECT k.id FROM api_keys k JOIN found USING (id)
                            WHERE k.revoked_at IS NULL
                              AND (k.last_used_at IS NULL
                                   OR k.last_used_at < now() - interval '1 minute')
                            FOR NO KEY UPDATE OF k SKIP LOCKED))
           SELECT id AS "id!", hash AS "hash!", prefix AS "prefix!", name AS "name!",
                  rate_limit AS "rate_limit!", default_site, sites,
                  permissions AS "permissions!", created_at AS "created_at!", last_used_at,
                  revoked_at
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
                sites: r.sites,
                permissions: r.permissions,
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
        r#"SELECT id, prefix, name, rate_limit, default_site, sites, permissions, created_at,
                  last_used_at, revoked_at
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
           RETURNING id, prefix, name, rate_limit, default_site, sites, permissions,
                     created_at, last_used_at, revoked_at"#,
        prefix,
    )
    .fetch_optional(db)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("key {prefix}")))
}
