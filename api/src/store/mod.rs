//! Storage: the SQL of each table next to the functions that need it, checked against the
//! migrations by sqlx at compile time (offline cache in `.sqlx/`). No ORM layer: each
//! function is one small, readable statement or two.

pub mod admins;
pub mod dead_letters;
pub mod dispatch;
pub mod events;
pub mod idempotency;
pub mod keys;
pub mod logins;
pub mod messages;
pub mod rate_limit;
pub mod retention;
pub mod sessions;
pub mod sites;

use crate::domain::FieldError;

/// Why a storage operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A key or message names a site that is not registered.
    #[error("site {0:?} is not registered")]
    UnknownSite(String),
    /// The thing to create exists already.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The thing to change does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A value is invalid (a field of what was asked for).
    #[error("{0}")]
    Invalid(FieldError),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Whether the database refused a statement for good because of the data it was given:
/// SQLSTATE class 22 (data exception, e.g. text holding NUL, a value out of range) or 23
/// (integrity constraint violation). The same data fails the same way every time; any
/// other failure (a lost connection, a deadlock, a serialization failure) may pass when
/// tried again.
pub fn is_refusal(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(e) => e
            .code()
            .is_some_and(|code| code.starts_with("22") || code.starts_with("23")),
        _ => false,
    }
}

/// The name of the constraint a database error violated, if any.
pub(crate) fn violated_constraint(error: &sqlx::Error) -> Option<&str> {
    match error {
        sqlx::Error::Database(e) => e.constraint(),
        _ => None,
    }
}
