//! The admin API (behind an admin session): create, list, change and revoke API keys,
//! register and list sites — what `smsgw-api keys …` and `sites …` do, over HTTP for the
//! dashboard.

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
    sites::{SiteList, sites_within},
};
use crate::{
    domain::FieldError,
    domain::key_scope::{KeyScope, Sites},
    mqtt::credentials::{DEFAULT_VALIDITY, issue_agent_credential},
    store::{
        self, StoreError,
        keys::{KeyEdit, KeyRecord},
    },
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
    /// Default site: where its messages go when they name none.
    pub site: Option<String>,
    /// The sites it may use; `null`: every site.
    pub sites: Option<Vec<String>>,
    /// What it may do: `send`, `read`, `inbound`, `sites`.
    pub permissions: Vec<String>,
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
            sites: k.sites,
            permissions: k.permissions,
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
    /// Default site (one of `sites`; the only one when `sites` has one).
    pub site: Option<String>,
    /// The sites it may use (default: every site).
    pub sites: Option<Vec<String>>,
    /// What it may do (default: all of `send`, `read`, `inbound`, `sites`).
    pub permissions: Option<Vec<String>>,
}

/// Changes to a key; what is left out stays as it is.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct UpdateKeyRequest {
    /// Who uses it.
    pub name: Option<String>,
    /// Messages per minute.
    pub rate_limit: Option<u32>,
    /// Default site; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub site: Option<Option<String>>,
    /// The sites it may use; `null`: every site.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub sites: Option<Option<Vec<String>>>,
    /// What it may do.
    pub permissions: Option<Vec<String>>,
}

/// Reads a field that is present, `null` included (`Some(None)`); a missing field stays
/// `None` through `#[serde(default)]`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
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
        (status = 422, description = "Invalid name, rate limit, site, sites or permissions (`field` names it)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_key(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    body: ApiJson<CreateKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let request = body.value;
    let name = checked_name(&request.name)?;
    let rate_limit = checked_rate_limit(request.rate_limit.unwrap_or(state.default_rate_limit))?;
    let scope = KeyScope::parse(
        request.sites.as_deref(),
        request.site.as_deref(),
        request.permissions.as_deref(),
    )
    .map_err(ApiError::InvalidBody)?;
    let (secret, record) =
        store::keys::create(&state.db, &state.pepper, name, rate_limit, &scope).await?;
    tracing::info!(admin = %admin.username, key = %record.prefix, "API key created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: secret.expose().to_owned(),
            record: KeyView::from(record),
        }),
    ))
}

fn checked_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(invalid(
            "invalid_name",
            "name",
            "`name` must be 1 to 200 characters",
        ));
    }
    Ok(name)
}

fn checked_rate_limit(rate_limit: u32) -> Result<u32, ApiError> {
    if !(1..=MAX_RATE_LIMIT).contains(&rate_limit) {
        return Err(invalid(
            "invalid_rate_limit",
            "rate_limit",
            format!("`rate_limit` must be 1 to {MAX_RATE_LIMIT} messages per minute"),
        ));
    }
    Ok(rate_limit)
}

/// `PATCH /api/v1/admin/keys/{prefix}`: change a key's name, rate limit, sites and
/// permissions; it takes effect with the key's next request.
#[utoipa::path(
    patch, path = "/api/v1/admin/keys/{prefix}", tag = "admin", security(("bearer" = [])),
    params(("prefix" = String, Path, description = "The key's visible prefix")),
    request_body = UpdateKeyRequest,
    responses(
        (status = 200, description = "The key as it is now", body = KeyView),
        (status = 401, description = "No or invalid admin session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Cookie session without its CSRF token (`csrf_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No key with this prefix", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body not sent as application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, rate limit, site, sites or permissions (`field` names it)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_key(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    Path(prefix): Path<String>,
    body: ApiJson<UpdateKeyRequest>,
) -> Result<Json<KeyView>, ApiError> {
    let patch = body.value;
    // The body is checked before the key is looked up, so that a bad body changes nothing.
    let name = patch
        .name
        .as_deref()
        .map(checked_name)
        .transpose()?
        .map(str::to_owned);
    let rate_limit = patch.rate_limit.map(checked_rate_limit).transpose()?;
    let record = store::keys::update(&state.db, &prefix, |current| {
        let sites = match &patch.sites {
            Some(sites) => sites.clone(),
            None => current.sites.clone(),
        };
        let site = match &patch.site {
            Some(site) => site.clone(),
            None => current.default_site.clone(),
        };
        let permissions = patch
            .permissions
            .clone()
            .unwrap_or_else(|| current.permissions.clone());
        let scope = KeyScope::parse(sites.as_deref(), site.as_deref(), Some(&permissions))?;
        Ok(KeyEdit {
            name: name.clone().unwrap_or_else(|| current.name.clone()),
            rate_limit: rate_limit
                .unwrap_or_else(|| u32::try_from(current.rate_limit).unwrap_or(1)),
            scope,
        })
    })
    .await
    .map_err(|e| match e {
        StoreError::NotFound(_) => ApiError::NotFound("key"),
        other => other.into(),
    })?;
    tracing::info!(admin = %admin.username, key = %record.prefix, "API key changed");
    Ok(Json(KeyView::from(record)))
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
    Ok(Json(sites_within(&state, &Sites::All).await?))
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
