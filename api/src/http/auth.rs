//! API key authentication and the rate-limit headers.
//!
//! The key comes in `X-API-Key` or `Authorization: Bearer`. The middleware looks it up by
//! HMAC, refuses a missing, malformed, unknown or revoked key with its own code, hands the
//! key to the handler as an [`AuthenticatedKey`] extension and, on the way out, puts
//! `X-RateLimit-Limit/Remaining/Reset` on every answer: from the handler's own
//! [`RateLimitStatus`] when it spent budget, else as read from the database.
//!
//! Sending a message does not go through the middleware: the group commit looks up the
//! keys of a whole batch in one statement ([`super::accept`]), with the same [`admit`] rule
//! and the same headers ([`put_rate_limit`]).

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use sqlx::PgPool;

use super::{AppState, error::ApiError};
use crate::{
    domain::{
        api_key::{ApiKeySecret, KEY_PREFIX},
        key_scope::{KeyScope, Permission},
    },
    store::{self, keys::KeyRecord, messages::Viewer, rate_limit::RateLimitStatus},
};

/// The key a request was made with.
#[derive(Debug, Clone)]
pub struct AuthenticatedKey {
    /// Row id of the key.
    pub id: i64,
    /// Visible prefix, for logs.
    pub prefix: String,
    /// Messages per minute.
    pub rate_limit: i32,
    /// Its sites, default site and permissions.
    pub scope: KeyScope,
}

impl AuthenticatedKey {
    /// Refuses the request (403 `permission_denied`) unless the key has `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.scope.allows(permission) {
            Ok(())
        } else {
            Err(ApiError::PermissionDenied(permission))
        }
    }

    /// Refuses a site the key may not use (403 `site_not_allowed`), whether it exists or
    /// not: a scoped key learns nothing about other sites.
    pub fn require_site(&self, site: &str) -> Result<(), ApiError> {
        if self.scope.sites.contains(site) {
            Ok(())
        } else {
            Err(ApiError::SiteNotAllowed(site.to_owned()))
        }
    }

    /// The key as a viewer of messages: those it sent (with `read`) and the inbound SMS
    /// of its sites (with `inbound`).
    pub fn viewer(&self) -> Viewer {
        Viewer {
            key_id: self.id,
            own: self.scope.allows(Permission::Read),
            inbound: self.scope.inbound_sites(),
        }
    }
}

/// The presented key text, from `X-API-Key` or `Authorization: Bearer`. An empty
/// `X-API-Key` (what a monitoring template sends when its key macro is left empty) counts
/// as none.
fn presented_key(headers: &HeaderMap) -> Result<&str, ApiError> {
    if let Some(value) = headers.get("x-api-key") {
        let key = value
            .to_str()
            .map(str::trim)
            .map_err(|_| ApiError::InvalidApiKey)?;
        if !key.is_empty() {
            return Ok(key);
        }
    }
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::InvalidApiKey)?;
        let (scheme, token) = value.split_once(' ').ok_or(ApiError::InvalidApiKey)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::InvalidApiKey);
        }
        return Ok(token.trim());
    }
    Err(ApiError::MissingApiKey)
}

/// Whether these headers present an API key at all (valid or not): a non-empty
/// `X-API-Key`, or a bearer token shaped like a key (other bearer tokens are sessions).
pub fn presents_key(headers: &HeaderMap) -> bool {
    let bearer_key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| {
            scheme.eq_ignore_ascii_case("bearer") && token.trim().starts_with(KEY_PREFIX)
        });
    let header_key = headers
        .get("x-api-key")
        .is_some_and(|v| !v.as_bytes().trim_ascii().is_empty());
    bearer_key || header_key
}

/// The HMAC of the presented key. A missing or malformed key is refused here, without
/// the database.
pub fn presented_hash(state: &AppState, headers: &HeaderMap) -> Result<Vec<u8>, ApiError> {
    let presented = presented_key(headers)?;
    let secret = ApiKeySecret::parse(presented).map_err(|_| ApiError::InvalidApiKey)?;
    Ok(state.pepper.hash(&secret))
}

/// The key of a record found by hash; an unknown or revoked key is refused.
pub fn admit(record: Option<KeyRecord>) -> Result<AuthenticatedKey, ApiError> {
    let record = record.ok_or(ApiError::InvalidApiKey)?;
    if record.revoked_at.is_some() {
        return Err(ApiError::RevokedApiKey);
    }
    Ok(AuthenticatedKey {
        scope: record.scope(),
        id: record.id,
        prefix: record.prefix,
        rate_limit: record.rate_limit,
    })
}

/// Looks up the key with this HMAC and notes its use.
pub async fn find_key(state: &AppState, hash: Vec<u8>) -> Result<AuthenticatedKey, ApiError> {
    let mut found = store::keys::find_and_touch(&state.db, std::slice::from_ref(&hash)).await?;
    admit(found.remove(&hash))
}

/// The valid key these headers present (401 for a missing, malformed, unknown or revoked
/// one).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<AuthenticatedKey, ApiError> {
    let hash = presented_hash(state, headers)?;
    find_key(state, hash).await
}

/// Writes the `X-RateLimit-*` headers.
fn put_rate_limit_headers(headers: &mut HeaderMap, rate: &RateLimitStatus) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(rate.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(rate.remaining));
    headers.insert(
        "x-ratelimit-reset",
        HeaderValue::from(rate.reset_after_secs),
    );
}

/// Puts the `X-RateLimit-*` headers on an answer to `key`: the answer's own
/// [`RateLimitStatus`] when it spent budget (or was refused for the lack of it), else the
/// budget as read from the database. Without the database, the answer goes without them.
pub async fn put_rate_limit(db: &PgPool, key: &AuthenticatedKey, response: &mut Response) {
    let rate = match response.extensions().get::<RateLimitStatus>() {
        Some(rate) => Some(*rate),
        None => match db.acquire().await {
            Ok(mut conn) => store::rate_limit::peek(&mut conn, key.id, key.rate_limit)
                .await
                .ok(),
            Err(_) => None,
        },
    };
    if let Some(rate) = rate {
        put_rate_limit_headers(response.headers_mut(), &rate);
    }
}

/// Middleware of every route that needs an API key.
pub async fn require_api_key(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let key = match authenticate(&state, req.headers()).await {
        Ok(key) => key,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(key.clone());
    let mut response = next.run(req).await;
    put_rate_limit(&state.db, &key, &mut response).await;
    response
}
