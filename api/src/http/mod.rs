//! The HTTP API: one [`AppState`] shared by all handlers and [`router`], which merges one
//! module per resource. A reader finds an endpoint by its noun: `messages.rs`,
//! `sites.rs`, `health.rs`, `admin.rs` (keys and sites for administrators),
//! `dead_letters.rs`; cross-cutting parts are `auth.rs` (API keys, their scopes and
//! rate-limit headers), `accept.rs` (the group commit behind sending) and `routing.rs`
//! (where a message goes), `session.rs` (admin login, logout and CSRF) with
//! `client_addr.rs`, `json.rs` (body extractor), `error.rs` (problem answers), `metrics.rs`
//! and `openapi.rs` (the OpenAPI document and Swagger UI).

pub mod accept;
pub mod admin;
pub mod auth;
pub mod client_addr;
pub mod dead_letters;
pub mod error;
pub mod health;
pub mod json;
pub mod messages;
pub mod metrics;
pub mod openapi;
pub mod routing;
pub mod session;
pub mod sites;

use std::sync::Arc;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    middleware,
    routing::{get, patch, post},
};
use metrics_exporter_prometheus::PrometheusHandle;
use smsgw_shared::phone::Region;
use sqlx::PgPool;
use tokio::sync::Semaphore;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::{config::Secret, domain::api_key::KeyPepper, mqtt::link::BrokerStatus};

/// What every handler may use; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub db: PgPool,
    /// Secret of the API key HMAC.
    pub pepper: Arc<KeyPepper>,
    /// Region for national phone numbers.
    pub region: Option<Region>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Signs admin sessions and agent credentials; `None` disables the admin API.
    pub jwt_secret: Option<Secret>,
    /// Rate limit of keys created through the admin API.
    pub default_rate_limit: u32,
    /// How long an admin session lasts.
    pub admin_session: time::Duration,
    /// The broker connection, when one is configured.
    pub broker: Option<Arc<BrokerStatus>>,
    /// Stores sent messages in shared transactions (group commit).
    pub accept: accept::Accepter,
    /// Password checks (argon2id, ~19 MiB each) that may run at once.
    pub password_checks: Arc<Semaphore>,
    /// Proxies in front whose `X-Forwarded-For` entries are trusted.
    pub trusted_proxy_hops: u8,
}

/// All routes of the API.
pub fn router(state: AppState) -> Router {
    let with_key = Router::new()
        .route("/api/v1/messages", get(messages::list))
        .route(
            "/api/v1/messages/{id}",
            get(messages::get).delete(messages::erase),
        )
        .route("/api/v1/messages/{id}/cancel", post(messages::cancel))
        .route("/api/v1/sites", get(sites::list))
        .route("/api/v1/sites/{id}", get(sites::get))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_api_key,
        ));
    let with_session = Router::new()
        .route(
            "/api/v1/admin/keys",
            get(admin::list_keys).post(admin::create_key),
        )
        .route("/api/v1/admin/keys/{prefix}", patch(admin::update_key))
        .route(
            "/api/v1/admin/keys/{prefix}/revoke",
            post(admin::revoke_key),
        )
        .route(
            "/api/v1/admin/sites",
            get(admin::list_sites).post(admin::create_site),
        )
        .route("/api/v1/admin/dead-letters", get(dead_letters::list))
        .route("/api/v1/auth/logout", post(session::logout))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            session::require_admin,
        ))
        .route("/api/v1/auth/login", post(session::login))
        // Forms of other sites cannot send JSON without asking first (CORS): what a
        // session can do takes JSON bodies only.
        .route_layer(middleware::from_fn(json::require_json_body));
    Router::new()
        .merge(with_key)
        // Sending checks its key itself, with the batch that stores it (see `accept.rs`).
        .route("/api/v1/messages", post(messages::create))
        .merge(with_session)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/health", get(health::api_health))
        .route("/metrics", get(metrics::render))
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi::ApiDoc::openapi()))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(error::MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
