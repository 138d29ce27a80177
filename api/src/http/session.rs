//! Admin sessions: `POST /api/v1/auth/login` checks a user name and password and returns
//! an HS256 JWT, also as an HttpOnly cookie for the dashboard; `POST /api/v1/auth/logout`
//! ends the session. [`require_admin`] guards the admin routes.
//!
//! Under attack: argon2id costs ~19 MiB and tens of milliseconds per check, so checks run
//! off the async threads under a small semaphore (full: 503 `login_busy` with
//! `Retry-After`, nothing counted); every attempt is counted per user name and per client
//! address in PostgreSQL before its check ([`store::logins`]), and a lock-out answers 429
//! `too_many_attempts` without checking anything. The JWT names a session row
//! ([`store::sessions`]), so a logout ends it on every replica. A request authenticated by
//! the cookie (which a browser sends by itself, also for another site's forms) must carry
//! the session's CSRF token in `X-CSRF-Token` unless its method is safe.

use std::{net::SocketAddr, sync::OnceLock};

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use axum::{
    Extension, Json,
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    AppState,
    client_addr::client_address,
    error::{ApiError, Problem},
    json::ApiJson,
};
use crate::store::{self, logins::Charge};

/// Audience of admin session tokens (broker credentials have another).
pub const ADMIN_AUDIENCE: &str = "smsgw-admin";
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "smsgw_session";
/// The header that carries the CSRF token of a cookie session.
pub const CSRF_HEADER: &str = "x-csrf-token";

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
    /// The session row; a logout revokes it.
    pub sid: Uuid,
}

/// The administrator a request was made by.
#[derive(Debug, Clone)]
pub struct AdminSession {
    /// User name.
    pub username: String,
    /// The session, for logging out.
    pub session_id: Uuid,
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
    /// Send it in `X-CSRF-Token` with every unsafe request (POST, PATCH, PUT, DELETE)
    /// made with the session cookie rather than the bearer token.
    pub csrf_token: String,
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

/// 32 random bytes, hex.
fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

fn login_outcome(outcome: &'static str) {
    metrics::counter!("smsgw_admin_logins_total", "outcome" => outcome).increment(1);
}

/// `POST /api/v1/auth/login`.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "admin",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A session token (also set as an HttpOnly cookie) and its CSRF token", body = LoginResponse),
        (status = 401, description = "Wrong user name or password (`invalid_credentials`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body not sent as application/json", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed logins for this user name or client address (`too_many_attempts`); see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Admin API disabled (`admin_disabled`, no SMSGW_JWT_SECRET), or too many password checks at once (`login_busy`, see Retry-After)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let secret = state.jwt_secret.clone().ok_or(ApiError::AdminDisabled)?;
    let LoginRequest { username, password } = body.value;
    // Full: refuse at once, before anything is counted or stored.
    let Ok(permit) = state.password_checks.clone().try_acquire_owned() else {
        login_outcome("busy");
        return Err(ApiError::LoginBusy);
    };
    let address = client_address(
        &headers,
        peer.as_ref().map(|Extension(info)| info),
        state.trusted_proxy_hops,
    );
    if let Charge::Locked { retry_after_secs } =
        store::logins::charge(&state.db, &username, &address).await?
    {
        login_outcome("locked");
        tracing::warn!(username = %username.escape_debug(), %address, retry_after_secs, "admin login locked out");
        return Err(ApiError::TooManyAttempts { retry_after_secs });
    }
    let stored = store::admins::password_hash(&state.db, &username).await?;
    let known = stored.is_some();
    let hash = stored.unwrap_or_else(|| decoy_hash().to_owned());
    // The permit goes with the check: a client that hangs up does not free it early.
    let matches = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        password_matches(&password, &hash)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("password check failed: {e}")))?;
    if !(known && matches) {
        login_outcome("refused");
        tracing::warn!(username = %username.escape_debug(), %address, "admin login refused");
        return Err(ApiError::InvalidCredentials);
    }
    store::logins::forget(&state.db, &username, &address).await?;
    let now = OffsetDateTime::now_utc();
    let expires_at = now + state.admin_session;
    let csrf_token = random_token();
    let sid = store::sessions::open(&state.db, &username, &csrf_token, expires_at).await?;
    let claims = AdminClaims {
        sub: username,
        aud: ADMIN_AUDIENCE.to_owned(),
        iat: now.unix_timestamp(),
        exp: expires_at.unix_timestamp(),
        sid,
    };
    let token = jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .map_err(|e| ApiError::Internal(format!("cannot sign a session: {e}")))?;
    login_outcome("ok");
    tracing::info!(username = %claims.sub, %address, "admin logged in");
    let cookie = session_cookie(&token, state.admin_session.whole_seconds());
    let mut response = (
        StatusCode::OK,
        Json(LoginResponse {
            token,
            token_type: "Bearer",
            expires_at,
            csrf_token,
        }),
    )
        .into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The `Set-Cookie` value of a session (an empty token and 0 clear it).
fn session_cookie(token: &str, max_age_secs: i64) -> String {
    format!(
        "{SESSION_COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age={max_age_secs}"
    )
}

/// `POST /api/v1/auth/logout`: ends the session on every replica and clears its cookie.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 204, description = "The session has ended; its token is refused from now on"),
        (status = 401, description = "No or invalid admin session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Cookie session without its CSRF token (`csrf_required`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
) -> Result<Response, ApiError> {
    store::sessions::revoke(&state.db, admin.session_id).await?;
    tracing::info!(username = %admin.username, "admin logged out");
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session_cookie("", 0)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// How a session token came.
enum Presented {
    /// `Authorization: Bearer`: a client sent it on purpose.
    Bearer(String),
    /// The cookie: a browser sends it by itself, so unsafe requests need the CSRF token.
    Cookie(String),
}

/// The session token from `Authorization: Bearer` or the session cookie.
fn presented_session(headers: &HeaderMap) -> Option<Presented> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| Presented::Bearer(token.trim().to_owned()));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then(|| Presented::Cookie(value.to_owned()))
        })
}

/// Whether these headers present an admin session token at all (valid or not).
pub fn presents_session(headers: &HeaderMap) -> bool {
    presented_session(headers).is_some()
}

/// Checks an admin session token's signature, audience and expiry.
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

/// The admin session of a request with these headers: a valid token whose session is
/// neither expired nor revoked and, for an unsafe `method` with the cookie, the session's
/// CSRF token.
pub async fn authenticate(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<AdminSession, ApiError> {
    let secret = state.jwt_secret.as_ref().ok_or(ApiError::AdminDisabled)?;
    let presented = presented_session(headers).ok_or(ApiError::MissingSession)?;
    let (token, by_cookie) = match &presented {
        Presented::Bearer(token) => (token, false),
        Presented::Cookie(token) => (token, true),
    };
    let claims = verify_session(secret.expose(), token)?;
    let session = store::sessions::find_active(&state.db, claims.sid)
        .await?
        .filter(|s| s.username == claims.sub)
        .ok_or(ApiError::InvalidSession)?;
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if by_cookie && !safe {
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or_default();
        if sent.is_empty() || store::sessions::csrf_hash(sent) != session.csrf_hash {
            return Err(ApiError::CsrfRequired);
        }
    }
    Ok(AdminSession {
        username: session.username,
        session_id: claims.sid,
    })
}

/// Middleware of the admin routes.
pub async fn require_admin(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    match authenticate(&state, req.method(), req.headers()).await {
        Ok(admin) => {
            req.extensions_mut().insert(admin);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}
