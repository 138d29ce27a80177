//! `/api/v1/sites`: the branch sites with their presence, queue and modems, so that a
//! client can choose where to send or see why messages wait.

use axum::{
    Extension, Json,
    extract::{Path, State},
};
use serde::Serialize;
use serde_json::Value;
use smsgw_shared::ids::SiteId;
use time::OffsetDateTime;

use super::{
    AppState,
    auth::AuthenticatedKey,
    error::{ApiError, Problem},
};
use crate::{
    domain::key_scope::{Permission, Sites},
    store::{
        self,
        sites::{ModemRecord, SiteRecord},
    },
};

/// A site as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteView {
    /// Site id.
    pub id: String,
    /// `online`, `offline` or `unknown`.
    pub presence: String,
    /// When its agent was last heard of.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen: Option<OffsetDateTime>,
    /// Agent version.
    pub agent_version: Option<String>,
    /// Outbound messages waiting at or for this site.
    pub queue: i64,
    /// Number of modems the agent reported.
    pub modem_count: i64,
    /// The modems (single-site answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modems: Option<Vec<ModemView>>,
}

/// A modem with its last reported state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModemView {
    /// Modem id.
    pub id: String,
    /// What the agent last published about it (model, signal, queue …).
    pub state: Value,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<SiteRecord> for SiteView {
    fn from(s: SiteRecord) -> Self {
        Self {
            id: s.id,
            presence: s.presence,
            last_seen: s.last_seen,
            agent_version: s.agent_version,
            queue: s.queue,
            modem_count: s.modems,
            modems: None,
        }
    }
}

impl From<ModemRecord> for ModemView {
    fn from(m: ModemRecord) -> Self {
        Self {
            id: m.id,
            state: m.state,
            updated_at: m.updated_at,
        }
    }
}

/// The list of sites.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteList {
    /// Every site, by id.
    pub sites: Vec<SiteView>,
}

/// The sites among `within`, as both the key API and the admin API list them.
pub async fn sites_within(state: &AppState, within: &Sites) -> Result<SiteList, ApiError> {
    let sites = store::sites::list(&state.db).await?;
    Ok(SiteList {
        sites: sites
            .into_iter()
            .filter(|s| within.contains(&s.id))
            .map(SiteView::from)
            .collect(),
    })
}

/// `GET /api/v1/sites`.
#[utoipa::path(
    get, path = "/api/v1/sites", tag = "sites", security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The sites the key may use", body = SiteList),
        (status = 401, description = "Missing, malformed, unknown or revoked API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `sites` (`permission_denied`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(key): Extension<AuthenticatedKey>,
) -> Result<Json<SiteList>, ApiError> {
    key.require(Permission::Sites)?;
    Ok(Json(sites_within(&state, &key.scope.sites).await?))
}

/// `GET /api/v1/sites/{id}`: one site with its modems.
#[utoipa::path(
    get, path = "/api/v1/sites/{id}", tag = "sites", security(("api_key" = []), ("bearer" = [])),
    params(("id" = String, Path, description = "Site id")),
    responses(
        (status = 200, description = "The site and its modems", body = SiteView),
        (status = 401, description = "Missing, malformed, unknown or revoked API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `sites` (`permission_denied`) or may not use this site (`site_not_allowed`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such site", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Extension(key): Extension<AuthenticatedKey>,
    Path(id): Path<String>,
) -> Result<Json<SiteView>, ApiError> {
    key.require(Permission::Sites)?;
    key.require_site(&id)?;
    let id: SiteId = id.parse().map_err(|_| ApiError::NotFound("site"))?;
    let site = store::sites::find(&state.db, &id)
        .await?
        .ok_or(ApiError::NotFound("site"))?;
    let modems = store::sites::modems(&state.db, &id).await?;
    let mut view = SiteView::from(site);
    view.modems = Some(modems.into_iter().map(ModemView::from).collect());
    Ok(Json(view))
}
