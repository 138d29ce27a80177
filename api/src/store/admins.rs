//! Administrators: a user name and an argon2id password hash (PHC string).

use sqlx::PgPool;

use super::{StoreError, violated_constraint};

/// The password hash of an administrator, if there is one by that name.
pub async fn password_hash(db: &PgPool, username: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT password_hash FROM admins WHERE username = $1",
        username
    )
    .fetch_optional(db)
    .await
}

/// Stores a new administrator.
pub async fn create(db: &PgPool, username: &str, password_hash: &str) -> Result<i64, StoreError> {
    sqlx::query_scalar!(
        "INSERT INTO admins (username, password_hash) VALUES ($1, $2) RETURNING id",
        username,
        password_hash,
    )
    .fetch_one(db)
    .await
    .map_err(|e| match violated_constraint(&e) {
        Some("admins_username_key") => StoreError::AlreadyExists(format!("admin {username}")),
        _ => StoreError::Database(e),
    })
}
