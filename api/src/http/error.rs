//! The one error type of the HTTP layer. Every refusal becomes an
//! `application/problem+json` answer (RFC 9457) with a stable machine-readable `code`, a
//! `title`, the HTTP `status`, a `detail` for people and, when one field is at fault, its
//! name in `field`. Internal failures are logged and answered with a generic text.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::{
    domain::{FieldError, key_scope::Permission},
    store::{StoreError, rate_limit::RateLimitStatus},
};

/// Largest request body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON at all.
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// The body is JSON but a field is missing, of the wrong type or invalid.
    #[error("{0}")]
    InvalidBody(FieldError),
    /// A query parameter or header is invalid.
    #[error("{0}")]
    InvalidRequest(FieldError),
    /// The body is not sent as JSON.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    /// The body is larger than [`MAX_BODY_BYTES`].
    #[error("the request body is larger than {MAX_BODY_BYTES} bytes")]
    PayloadTooLarge,
    /// No API key was presented.
    #[error("an API key is required: send it in the X-API-Key header or as Authorization: Bearer")]
    MissingApiKey,
    /// The presented key is malformed or unknown.
    #[error("the API key is not valid")]
    InvalidApiKey,
    /// The presented key was revoked.
    #[error("the API key has been revoked")]
    RevokedApiKey,
    /// The key lacks the permission this request needs.
    #[error("this API key does not have the `{0}` permission")]
    PermissionDenied(Permission),
    /// The key may not use this site.
    #[error("this API key may not use site {0:?}")]
    SiteNotAllowed(String),
    /// The admin API needs SMSGW_JWT_SECRET.
    #[error("the admin API is disabled: SMSGW_JWT_SECRET is not set")]
    AdminDisabled,
    /// Wrong user name or password.
    #[error("wrong user name or password")]
    InvalidCredentials,
    /// Too many failed logins for this user name or client address.
    #[error("too many failed logins; try again in {retry_after_secs} s")]
    TooManyAttempts {
        /// Seconds until the lock-out ends.
        retry_after_secs: u64,
    },
    /// Every password check slot is taken.
    #[error("too many logins at once; try again in a moment")]
    LoginBusy,
    /// A cookie-authenticated unsafe request without the session's CSRF token.
    #[error(
        "a request made with the session cookie must send the session's csrf_token (from the login answer) in X-CSRF-Token"
    )]
    CsrfRequired,
    /// No admin session was presented.
    #[error(
        "an admin session is required: log in at /api/v1/auth/login and send the token as Authorization: Bearer"
    )]
    MissingSession,
    /// The admin session is invalid or expired.
    #[error("the admin session is invalid or expired; log in again")]
    InvalidSession,
    /// The thing to create exists already.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// Nothing here, or nothing this key may see.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The path exists but not with this method.
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    /// No site is registered, so a message cannot be routed.
    #[error("no site is registered; register one with `smsgw-api sites create --id <site>`")]
    NoSite,
    /// The message is past the point where it can be canceled.
    #[error("the message is {0} and can no longer be canceled")]
    NotCancelable(&'static str),
    /// The message may still go to a branch, which needs its number and text.
    #[error("the message is {0} and may still be sent; cancel it first, or wait until it is sent")]
    NotErasable(String),
    /// The key's budget for the current window is spent.
    #[error("rate limit of {} messages per minute reached; retry in {} s", .0.limit, .0.reset_after_secs)]
    RateLimited(RateLimitStatus),
    /// The idempotency key was used before with another body.
    #[error("this Idempotency-Key was used before with a different request body")]
    IdempotencyConflict,
    /// A dependency is down.
    #[error("not ready: {0}")]
    NotReady(String),
    /// The database failed (503 when it is out of reach, see [`is_unavailable`]).
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The database was out of reach for a request that shared its failure with others.
    #[error("the database is out of reach: {0}")]
    DatabaseUnavailable(String),
    /// Something that should not happen did.
    #[error("{0}")]
    Internal(String),
}

/// The problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable code, e.g. `invalid_phone`.
    #[schema(value_type = String, example = "invalid_phone")]
    pub code: &'static str,
    /// Short summary of the kind of problem.
    #[schema(value_type = String)]
    pub title: &'static str,
    /// HTTP status.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// The field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The answer while the database is out of reach: the client should try again.
const UNAVAILABLE: (StatusCode, &str, &str) = (
    StatusCode::SERVICE_UNAVAILABLE,
    "database_unavailable",
    "Database unavailable",
);
const UNAVAILABLE_DETAIL: &str = "the database is out of reach; nothing was stored, try again";
/// `Retry-After` of a [`UNAVAILABLE`] answer, in seconds.
const UNAVAILABLE_RETRY_SECS: u32 = 1;

/// `Retry-After` of a `login_busy` answer, in seconds.
const LOGIN_BUSY_RETRY_SECS: u32 = 1;

/// Whether `e` means the database could not be reached (no connection in time, the
/// connection broke, the server is shutting down or full), as opposed to a statement it
/// refused. SQLSTATE classes from the PostgreSQL manual, appendix A: 08 connection
/// exception, 53 insufficient resources, 57P01–57P03 operator intervention.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

impl ApiError {
    /// HTTP status, stable code and title.
    pub fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::MalformedJson(_) => {
                (StatusCode::BAD_REQUEST, "malformed_json", "Malformed JSON")
            }
            ApiError::InvalidBody(e) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                e.code,
                "Invalid request body",
            ),
            ApiError::InvalidRequest(e) => (StatusCode::BAD_REQUEST, e.code, "Invalid request"),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
            ),
            ApiError::MissingApiKey => (
                StatusCode::UNAUTHORIZED,
                "missing_api_key",
                "API key required",
            ),
            ApiError::InvalidApiKey => (
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "Invalid API key",
            ),
            ApiError::RevokedApiKey => (
                StatusCode::UNAUTHORIZED,
                "revoked_api_key",
                "Revoked API key",
            ),
            ApiError::PermissionDenied(_) => (
                StatusCode::FORBIDDEN,
                "permission_denied",
                "Permission denied",
            ),
            ApiError::SiteNotAllowed(_) => (
                StatusCode::FORBIDDEN,
                "site_not_allowed",
                "Site not allowed",
            ),
            ApiError::AdminDisabled => (
                StatusCode::SERVICE_UNAVAILABLE,
                "admin_disabled",
                "Admin API disabled",
            ),
            ApiError::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Invalid credentials",
            ),
            ApiError::TooManyAttempts { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "Too many failed logins",
            ),
            ApiError::LoginBusy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "login_busy",
                "Too many logins at once",
            ),
            ApiError::CsrfRequired => (
                StatusCode::FORBIDDEN,
                "csrf_required",
                "CSRF token required",
            ),
            ApiError::MissingSession => (
                StatusCode::UNAUTHORIZED,
                "missing_session",
                "Admin session required",
            ),
            ApiError::InvalidSession => (
                StatusCode::UNAUTHORIZED,
                "invalid_session",
                "Invalid admin session",
            ),
            ApiError::AlreadyExists(_) => {
                (StatusCode::CONFLICT, "already_exists", "Already exists")
            }
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            ),
            ApiError::NoSite => (StatusCode::CONFLICT, "no_site", "No site to send from"),
            ApiError::NotCancelable(_) => (
                StatusCode::CONFLICT,
                "not_cancelable",
                "Message not cancelable",
            ),
            ApiError::NotErasable(_) => (
                StatusCode::CONFLICT,
                "not_erasable",
                "Message not erasable yet",
            ),
            ApiError::RateLimited(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Rate limit reached",
            ),
            ApiError::IdempotencyConflict => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_conflict",
                "Idempotency key reused",
            ),
            ApiError::NotReady(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "Service not ready",
            ),
            ApiError::Database(e) if is_unavailable(e) => UNAVAILABLE,
            ApiError::DatabaseUnavailable(_) => UNAVAILABLE,
            ApiError::Database(_) | ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }

    /// The problem document of this error.
    pub fn problem(&self) -> Problem {
        let (status, code, title) = self.parts();
        let (detail, field) = match self {
            ApiError::InvalidBody(e) | ApiError::InvalidRequest(e) => (
                e.detail.clone(),
                (!e.field.is_empty()).then(|| e.field.clone()),
            ),
            ApiError::SiteNotAllowed(_) => (self.to_string(), Some("site".to_owned())),
            ApiError::Database(e) if is_unavailable(e) => (UNAVAILABLE_DETAIL.to_owned(), None),
            ApiError::DatabaseUnavailable(_) => (UNAVAILABLE_DETAIL.to_owned(), None),
            ApiError::Database(_) | ApiError::Internal(_) => (
                "the server failed to answer; try again later".to_owned(),
                None,
            ),
            other => (other.to_string(), None),
        };
        Problem {
            code,
            title,
            status: status.as_u16(),
            detail,
            field,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownSite(site) => ApiError::InvalidBody(FieldError::unknown_site(&site)),
            StoreError::AlreadyExists(what) => ApiError::AlreadyExists(what),
            StoreError::NotFound(_) => ApiError::NotFound("resource"),
            StoreError::Invalid(e) => ApiError::InvalidBody(e),
            StoreError::Database(e) => ApiError::Database(e),
        }
    }
}

/// Serialises a problem with its content type.
pub fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let mut response = (status, Json(problem)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, ..) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, debug = ?self, "request failed");
        }
        let mut response = problem_response(status, &self.problem());
        match &self {
            ApiError::RateLimited(rate) => {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(rate.reset_after_secs),
                );
                response.extensions_mut().insert(*rate);
            }
            ApiError::TooManyAttempts { retry_after_secs } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::LoginBusy => {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(LOGIN_BUSY_RETRY_SECS),
                );
            }
            ApiError::Database(_) | ApiError::DatabaseUnavailable(_)
                if status == StatusCode::SERVICE_UNAVAILABLE =>
            {
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(UNAVAILABLE_RETRY_SECS),
                );
            }
            ApiError::MissingApiKey
            | ApiError::InvalidApiKey
            | ApiError::RevokedApiKey
            | ApiError::InvalidCredentials
            | ApiError::MissingSession
            | ApiError::InvalidSession => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"smsgw\""),
                );
            }
            _ => {}
        }
        response
    }
}

/// The answer for a path that does not exist.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("path")
}

/// The answer for a method a path does not have.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_out_of_reach_is_503_with_retry_after_and_other_failures_500() {
        let response = ApiError::Database(sqlx::Error::PoolTimedOut).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let response = ApiError::DatabaseUnavailable("closed".into()).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let refused = ApiError::Database(sqlx::Error::RowNotFound);
        assert_eq!(refused.parts().1, "internal");
        let response = refused.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}
