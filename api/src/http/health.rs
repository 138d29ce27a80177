//! Health: `/healthz` (the process answers), `/readyz` (what a replica needs to take
//! requests answers: the database, for load balancers) and the original gateway's
//! `GET /api/health` (status, modem, queue, database), which shows details only to those
//! allowed to see them.

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, Method, StatusCode},
};
use serde::Serialize;
use serde_json::{Value, json};
use smsgw_shared::wire::ModemHealth;

use super::{
    AppState,
    auth::{self, AuthenticatedKey},
    error::{ApiError, Problem},
    session,
    sites::{ModemView, SiteView},
};
use crate::{
    domain::{
        health::{ModemSummary, Status, status, summarize},
        key_scope::{Permission, Sites},
    },
    store,
};

/// How long a readiness probe waits for the database.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: the process is alive.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn database_ok(state: &AppState) -> bool {
    let probe = sqlx::query_scalar!("SELECT 1 AS \"one!\"").fetch_one(&state.db);
    matches!(tokio::time::timeout(PROBE_TIMEOUT, probe).await, Ok(Ok(1)))
}

/// The broker link as health answers name it.
fn broker_state(state: &AppState) -> &'static str {
    match &state.broker {
        None => "not_configured",
        Some(broker) if broker.connected() => "connected",
        Some(_) => "disconnected",
    }
}

/// `GET /readyz`: the database answers — everything a replica needs to take requests.
/// The broker link is reported, never required: while the broker is away a replica still
/// accepts sends (they wait `queued` and go out once it is back), so a broker restart must
/// not make a load balancer take every replica out at once. `smsgw_mqtt_connected` and
/// `GET /api/health` watch the link.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "Ready: the database answers; `broker` says whether this replica is connected to the MQTT broker (`connected`, `disconnected`, `not_configured`), which readiness does not depend on"),
    (status = 503, description = "The database does not answer (`not_ready`)", body = super::error::Problem, content_type = "application/problem+json"),
))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if !database_ok(&state).await {
        return Err(ApiError::NotReady("the database does not answer".into()));
    }
    Ok(Json(
        json!({ "status": "ready", "database": "ok", "broker": broker_state(&state) }),
    ))
}

/// `queue` of the health answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QueueSummary {
    /// Outbound messages waiting to be sent: stored, on their way to a branch or in an
    /// agent's journal (`pending`, `queued`, `dispatched`, `accepted`); `null` while the
    /// database does not answer.
    pub pending: Option<i64>,
    /// Outbound messages a modem is sending now (`sending`); `null` while the database
    /// does not answer.
    pub executing: Option<i64>,
}

/// `GET /api/health`: the original gateway's answer, and the details for those allowed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "status": "healthy",
    "modem": {"connected": true, "signal_strength": 85, "network": "Orange F"},
    "queue": {"pending": 5, "executing": 2},
    "database": "connected",
    "broker": "connected"
}))]
pub struct HealthView {
    /// `healthy`: the database answers, this replica is connected to its broker and a
    /// modem is connected; `degraded`: messages are accepted but wait (no modem connected,
    /// or no broker link); `unhealthy`: the database does not answer (HTTP 503).
    pub status: Status,
    /// The modems as one: the best connected modem of the sites looked at.
    pub modem: ModemSummary,
    /// Outbound messages waiting and being sent at the sites looked at.
    pub queue: QueueSummary,
    /// `connected` or `disconnected`.
    pub database: &'static str,
    /// This replica's broker link: `connected`, `disconnected` or `not_configured`.
    pub broker: &'static str,
    /// The API's version (with an API key that has the `sites` permission, or an admin
    /// session).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'static str>,
    /// The sites looked at, each with its modems (with an API key that has the `sites`
    /// permission: its sites; with an admin session: every site).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sites: Option<Vec<SiteView>>,
}

/// Who asks for the health answer, and so what it covers.
enum Asker {
    /// Nobody in particular: every site, summed up, no details.
    Public,
    /// An API key: its sites, with details if it has the `sites` permission.
    Key(AuthenticatedKey),
    /// An administrator: every site, with details.
    Admin,
}

/// The asker of a request: an API key (`X-API-Key`, or a bearer token shaped like one),
/// an admin session (another bearer token, or the session cookie), or nobody. Presented
/// credentials that are not valid are refused (401), not ignored.
async fn asker(state: &AppState, headers: &HeaderMap) -> Result<Asker, ApiError> {
    if auth::presents_key(headers) {
        return Ok(Asker::Key(auth::authenticate(state, headers).await?));
    }
    if session::presents_session(headers) {
        session::authenticate(state, &Method::GET, headers).await?;
        return Ok(Asker::Admin);
    }
    Ok(Asker::Public)
}

/// `GET /api/health`: the original gateway's shape (`status`, `modem`, `queue`,
/// `database`) plus the broker link, for any caller; with an API key that has the `sites`
/// permission (its sites) or an admin session (every site) also the version and each
/// site with its modems. Without credentials no site id, version or modem detail shows.
#[utoipa::path(get, path = "/api/health", tag = "health",
    security((), ("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Healthy or degraded", body = HealthView),
        (status = 401, description = "Credentials were presented and are not valid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Unhealthy: the database does not answer", body = HealthView),
    ))]
pub async fn api_health(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<HealthView>), ApiError> {
    let asker = asker(&state, &headers).await?;
    let (within, details) = match &asker {
        Asker::Public => (Sites::All, false),
        Asker::Key(key) => (key.scope.sites.clone(), key.scope.allows(Permission::Sites)),
        Asker::Admin => (Sites::All, true),
    };
    let broker = broker_state(&state);
    let broker_connected = broker == "connected";
    let fleet = async {
        tokio::try_join!(
            store::sites::list(&state.db),
            store::sites::all_modems(&state.db),
            store::sites::queue_counts(&state.db, within.as_list()),
        )
    };
    let Ok(Ok((sites, modems, (pending, executing)))) =
        tokio::time::timeout(PROBE_TIMEOUT, fleet).await
    else {
        let modem = summarize([]);
        return Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthView {
                status: status(false, broker_connected, false),
                modem,
                queue: QueueSummary {
                    pending: None,
                    executing: None,
                },
                database: "disconnected",
                broker,
                version: None,
                sites: None,
            }),
        ));
    };
    let sites: Vec<_> = sites
        .into_iter()
        .filter(|s| within.contains(&s.id))
        .collect();
    let modems: Vec<_> = modems
        .into_iter()
        .filter(|m| within.contains(&m.site_id))
        .collect();
    let health: Vec<(bool, ModemHealth)> = modems
        .iter()
        .filter_map(|m| {
            let online = sites
                .iter()
                .any(|s| s.id == m.site_id && s.presence == "online");
            serde_json::from_value(m.state.clone())
                .ok()
                .map(|h| (online, h))
        })
        .collect();
    let modem = summarize(health.iter().map(|(online, h)| (*online, h)));
    let view_sites = details.then(|| {
        sites
            .into_iter()
            .map(|site| {
                let mut view = SiteView::from(site);
                view.modems = Some(
                    modems
                        .iter()
                        .filter(|m| m.site_id == view.id)
                        .map(|m| ModemView {
                            id: m.id.clone(),
                            state: m.state.clone(),
                            updated_at: m.updated_at,
                        })
                        .collect(),
                );
                view
            })
            .collect()
    });
    Ok((
        StatusCode::OK,
        Json(HealthView {
            status: status(true, broker_connected, modem.connected),
            modem,
            queue: QueueSummary {
                pending: Some(pending),
                executing: Some(executing),
            },
            database: "connected",
            broker,
            version: details.then_some(env!("CARGO_PKG_VERSION")),
            sites: view_sites,
        }),
    ))
}
