//! Admin sessions: `POST /api/v1/auth/login` checks a user name and password (argon2id, off
//! the async threads) and returns an HS256 JWT, also as an HttpOnly cookie for the
//! dashboard. [`require_admin`] guards the admin routes. Sessions are JWTs so that any
//! replica can check them without shared memory.

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    AppState,
    error::{ApiError, Problem},
    json::ApiJson,
};
use crate::store;

/// Audience of admin session tokens (broker credentials have another).
pub const ADMIN_AUDIENCE: &str = "smsgw-admin";
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "smsgw_session";

/// The claims of an admin session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminClaims {
    /// The administrator's user name.
    pub sub: String,
    /// Always [`ADMIN_AUDIENCE`].
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
}

/// The administrator a request was made by.
#[derive(Debug, Clone)]
pub struct AdminSession {
    /// User name.
    pub username: String,
}

/// The login form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A new session.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// The JWT: send it as `Authorization: Bearer`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// A hash to check passwords of unknown users against, so that a wrong user name takes
/// as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        Argon2::default()
            .hash_password(b"decoy password that matches nothing")
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// `POST /api/v1/auth/login`.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "admin",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A session token (also set as an HttpOnly cookie)", body = LoginResponse),
        (status = 401, description = "Wrong user name or password", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Admin API disabled (no SMSGW_JWT_SECRET)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    body: ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let secret = state.jwt_secret.clone().ok_or(ApiError::AdminDisabled)?;
    let LoginRequest { username, password } = body.value;
    let stored = store::admins::password_hash(&state.db, &username).await?;
    let known = stored.is_some();
    let hash = stored.unwrap_or_else(|| decoy_hash().to_owned());
    let matches = tokio::task::spawn_blocking(move || password_matches(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(format!("password check failed: {e}")))?;
    if !(known && matches) {
        tracing::warn!(username = %username.escape_debug(), "admin login refused");
        return Err(ApiError::InvalidCredentials);
    }
    let now = OffsetDateTime::now_utc();
    let expires_at = now + state.admin_session;
    let claims = AdminClaims {
        sub: username,
        aud: ADMIN_AUDIENCE.to_owned(),
        iat: now.unix_timestamp(),
        exp: expires_at.unix_timestamp(),
    };
    let token = jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .map_err(|e| ApiError::Internal(format!("cannot sign a session: {e}")))?;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={}",
        state.admin_session.whole_seconds()
    );
    let mut response = (
        StatusCode::OK,
        Json(LoginResponse {
            token,
            token_type: "Bearer",
            expires_at,
        }),
    )
        .into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The session token from `Authorization: Bearer` or the session cookie.
fn presented_session(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then(|| value.to_owned())
        })
}

/// Checks an admin session token.
pub fn verify_session(secret: &str, token: &str) -> Result<AdminClaims, ApiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[ADMIN_AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    jsonwebtoken::decode::<AdminClaims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map(|data| data.claims)
    .map_err(|_| ApiError::InvalidSession)
}

/// Middleware of the admin routes.
pub async fn require_admin(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let checked = (|| {
        let secret = state.jwt_secret.as_ref().ok_or(ApiError::AdminDisabled)?;
        let token = presented_session(req.headers()).ok_or(ApiError::MissingSession)?;
        verify_session(secret.expose(), &token)
    })();
    match checked {
        Ok(claims) => {
            req.extensions_mut().insert(AdminSession {
                username: claims.sub,
            });
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}
