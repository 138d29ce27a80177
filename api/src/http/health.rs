//! Health: `/healthz` (the process answers), `/readyz` (its dependencies answer, for load
//! balancers) and the seed's `GET /api/health` (status, database, modem, queue) with every
//! site added.

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use super::{AppState, error::ApiError, sites::SiteView};
use crate::store;

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

/// `GET /api/health` (seed shape): `status` is `ok` when the database answers and some
/// site is online, `degraded` otherwise; `modem` sums up the sites' presence.
#[utoipa::path(get, path = "/api/health", tag = "health", responses(
    (status = 200, description = "status, database, modem, queue and every site"),
    (status = 503, description = "The database does not answer"),
))]
pub async fn api_health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let sites = match tokio::time::timeout(PROBE_TIMEOUT, store::sites::list(&state.db)).await {
        Ok(Ok(sites)) => sites,
        _ => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "error", "database": "disconnected", "modem": "unknown",
                    "queue": null, "sites": [],
                })),
            );
        }
    };
    let queue: i64 = sites.iter().map(|s| s.queue).sum();
    let modem = if sites.iter().any(|s| s.presence == "online") {
        "connected"
    } else if sites.iter().any(|s| s.presence == "offline") {
        "disconnected"
    } else {
        "unknown"
    };
    let status = if modem == "connected" {
        "ok"
    } else {
        "degraded"
    };
    let sites: Vec<SiteView> = sites.into_iter().map(SiteView::from).collect();
    (
        StatusCode::OK,
        Json(json!({
            "status": status, "database": "connected", "modem": modem, "queue": queue,
            "sites": sites,
        })),
    )
}
