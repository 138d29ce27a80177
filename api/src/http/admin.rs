//! The admin API (behind an admin session): create, list and revoke API keys, register and
//! list sites — what `smsgw-api keys …` and `sites …` do, over HTTP for the dashboard.

use axum::{
    Extension, Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::{Deserialize, Serialize};
use smsgw_shared::ids::SiteId;
use time::OffsetDateTime;

use super::{
    AppState,
    error::{ApiError, Problem},
    json::ApiJson,
    session::AdminSession,
    sites::{SiteList, all_sites},
};
use crate::{
    domain::FieldError,
    mqtt::credentials::{DEFAULT_VALIDITY, issue_agent_credential},
    store::{self, StoreError, keys::KeyRecord},
};

/// Highest rate limit a key may have, messages per minute.
pub const MAX_RATE_LIMIT: u32 = 1_000_000;

/// An API key as administrators see it (never the key itself).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// Visible prefix.
    pub prefix: String,
    /// Who uses it.
    pub name: String,
    /// Messages per minute.
    pub rate_limit: i32,
    /// Default site.
    pub site: Option<String>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last use (to the minute).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Revocation time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<KeyRecord> for KeyView {
    fn from(k: KeyRecord) -> Self {
        Self {
            prefix: k.prefix,
            name: k.name,
            rate_limit: k.rate_limit,
            site: k.default_site,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// Every key.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    /// Oldest first.
    pub keys: Vec<KeyView>,
}

/// A key to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateKeyRequest {
    /// Who uses it.
    pub name: String,
    /// Messages per minute (default: SMSGW_DEFAULT_RATE_LIMIT).
    pub rate_limit: Option<u32>,
    /// Default site.
    pub site: Option<String>,
}

/// A created key: shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    /// The key; it cannot be shown again.
    pub key: String,
    /// What is stored about it.
    #[serde(flatten)]
    pub record: KeyView,
}

/// A site to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateSiteRequest {
    /// 1 to 32 characters of a-z and 0-9.
    pub id: String,
}

/// A registered site and its agent's broker credentials.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedSite {
    /// Site id.
    pub id: String,
    /// MQTT client id of its agent.
    pub client_id: String,
    /// MQTT password of its agent (a JWT).
    pub token: String,
    /// When the credential expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

fn invalid(code: &'static str, field: &str, detail: impl Into<String>) -> ApiError {
    ApiError::InvalidBody(FieldError::new(code, field, detail))
}

/// `GET /api/v1/admin/keys`.
#[utoipa::path(
    get, path = "/api/v1/admin/keys", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every key", body = KeyList),
        (status = 401, description = "No or invalid admin session", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_keys(
    State(state): State<AppState>,
    Extension(_admin): Extension<AdminSession>,
) -> Result<Json<KeyList>, ApiError> {
    let keys = store::keys::list(&state.db).await?;
    Ok(Json(KeyList {
        keys: keys.into_iter().map(KeyView::from).collect(),
    }))
}

/// `POST /api/v1/admin/keys`: create a key and show it once.
#[utoipa::path(
    post, path = "/api/v1/admin/keys", tag = "admin", security(("bearer" = [])),
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "The key, shown this once", body = CreatedKey),
        (status = 401, description = "No or invalid admin session", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, rate limit or site", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_key(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    body: ApiJson<CreateKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let request = body.value;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(invalid(
            "invalid_name",
            "name",
            "`name` must be 1 to 200 characters",
        ));
    }
    let rate_limit = request.rate_limit.unwrap_or(state.default_rate_limit);
    if !(1..=MAX_RATE_LIMIT).contains(&rate_limit) {
        return Err(invalid(
            "invalid_rate_limit",
            "rate_limit",
            format!("`rate_limit` must be 1 to {MAX_RATE_LIMIT} messages per minute"),
        ));
    }
    let site = request
        .site
        .map(|s| s.parse::<SiteId>())
        .transpose()
        .map_err(|e| invalid("invalid_site", "site", e.to_string()))?;
    let (secret, record) =
        store::keys::create(&state.db, &state.pepper, name, rate_limit, site.as_ref()).await?;
    tracing::info!(admin = %admin.username, key = %record.prefix, "API key created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: secret.expose().to_owned(),
            record: KeyView::from(record),
        }),
    ))
}

/// `POST /api/v1/admin/keys/{prefix}/revoke`.
#[utoipa::path(
    post, path = "/api/v1/admin/keys/{prefix}/revoke", tag = "admin", security(("bearer" = [])),
    params(("prefix" = String, Path, description = "The key's visible prefix")),
    responses(
        (status = 200, description = "Revoked (also when it already was)", body = KeyView),
        (status = 401, description = "No or invalid admin session", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No key with this prefix", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    Path(prefix): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    let record = store::keys::revoke(&state.db, &prefix)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => ApiError::NotFound("key"),
            other => other.into(),
        })?;
    tracing::info!(admin = %admin.username, key = %record.prefix, "API key revoked");
    Ok(Json(KeyView::from(record)))
}

/// `GET /api/v1/admin/sites`.
#[utoipa::path(
    get, path = "/api/v1/admin/sites", tag = "admin", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every site", body = SiteList),
        (status = 401, description = "No or invalid admin session", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_sites(
    State(state): State<AppState>,
    Extension(_admin): Extension<AdminSession>,
) -> Result<Json<SiteList>, ApiError> {
    Ok(Json(all_sites(&state).await?))
}

/// `POST /api/v1/admin/sites`: register a site and issue its agent's broker credentials.
#[utoipa::path(
    post, path = "/api/v1/admin/sites", tag = "admin", security(("bearer" = [])),
    request_body = CreateSiteRequest,
    responses(
        (status = 201, description = "Registered; the agent's broker credentials", body = CreatedSite),
        (status = 401, description = "No or invalid admin session", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The site exists already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid site id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_site(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    body: ApiJson<CreateSiteRequest>,
) -> Result<(StatusCode, Json<CreatedSite>), ApiError> {
    let id: SiteId = body
        .value
        .id
        .parse()
        .map_err(|e: smsgw_shared::ids::IdError| invalid("invalid_site", "id", e.to_string()))?;
    let secret = state.jwt_secret.as_ref().ok_or(ApiError::AdminDisabled)?;
    let credential = issue_agent_credential(
        secret.expose(),
        &id,
        OffsetDateTime::now_utc(),
        DEFAULT_VALIDITY,
    )
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    store::sites::create(&state.db, &id).await?;
    tracing::info!(admin = %admin.username, site = %id, "site registered");
    Ok((
        StatusCode::CREATED,
        Json(CreatedSite {
            id: id.to_string(),
            client_id: credential.client_id,
            token: credential.token,
            expires_at: credential.expires_at,
        }),
    ))
}
