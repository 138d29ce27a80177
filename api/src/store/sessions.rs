//! Admin sessions. A session token (JWT) names its row by id, and a request is admitted
//! only while that row is neither expired nor revoked: a logout ends a session on every
//! replica at once, which a bare JWT could not do. Each session has a CSRF token for the
//! requests that come with the session cookie; only its SHA-256 is kept.

use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

/// A session that is still valid.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    /// Its administrator.
    pub username: String,
    /// SHA-256 of its CSRF token.
    pub csrf_hash: Vec<u8>,
}

/// SHA-256 of a CSRF token, as stored and compared.
pub fn csrf_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Opens a session of `username` until `expires_at` with this CSRF token; returns its id.
pub async fn open(
    db: &PgPool,
    username: &str,
    csrf_token: &str,
    expires_at: OffsetDateTime,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO admin_sessions (id, username, csrf_hash, expires_at) VALUES ($1, $2, $3, $4)",
        id,
        username,
        csrf_hash(csrf_token),
        expires_at,
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// The session with this id, if it has neither expired nor been revoked.
pub async fn find_active(db: &PgPool, id: Uuid) -> Result<Option<ActiveSession>, sqlx::Error> {
    sqlx::query_as!(
        ActiveSession,
        r#"SELECT username, csrf_hash FROM admin_sessions
           WHERE id = $1 AND revoked_at IS NULL AND expires_at > now()"#,
        id,
    )
    .fetch_optional(db)
    .await
}

/// Ends a session (logging out twice keeps the first time).
pub async fn revoke(db: &PgPool, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE admin_sessions SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1",
        id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes sessions that ended (expired, or revoked) more than a day ago; returns how
/// many. Their tokens are refused anyway: a missing row is no session.
pub async fn delete_ended(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        r#"DELETE FROM admin_sessions
           WHERE least(expires_at, coalesce(revoked_at, expires_at)) < now() - interval '1 day'"#
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
