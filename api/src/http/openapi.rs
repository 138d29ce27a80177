//! The OpenAPI 3.1 document of the API, generated from the handlers' annotations so that it
//! cannot drift from the code, served at `/api/openapi.json` with Swagger UI at `/api/docs`.

use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use super::{admin, dead_letters, error::Problem, health, messages, metrics, session, sites};
use crate::domain::new_message::SendMessageRequest;

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "smsgw API",
        description = "Send and read SMS through branch modems. Errors are application/problem+json with a stable `code`."
    ),
    paths(
        messages::create,
        messages::list,
        messages::get,
        messages::cancel,
        messages::erase,
        sites::list,
        sites::get,
        health::healthz,
        health::readyz,
        health::api_health,
        metrics::render,
        session::login,
        session::logout,
        admin::list_keys,
        admin::create_key,
        admin::update_key,
        admin::revoke_key,
        admin::list_sites,
        admin::create_site,
        dead_letters::list,
    ),
    components(schemas(
        SendMessageRequest,
        messages::MessageView,
        messages::MessageList,
        messages::EventView,
        messages::ErrorView,
        sites::SiteView,
        sites::SiteList,
        sites::ModemView,
        health::HealthView,
        health::QueueSummary,
        crate::domain::health::ModemSummary,
        crate::domain::health::Status,
        Problem,
        session::LoginRequest,
        session::LoginResponse,
        admin::KeyView,
        admin::KeyList,
        admin::CreateKeyRequest,
        admin::UpdateKeyRequest,
        admin::CreatedKey,
        admin::CreateSiteRequest,
        admin::CreatedSite,
        dead_letters::DeadLetterView,
        dead_letters::DeadLetterList,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "messages", description = "Send, list, read and cancel SMS"),
        (name = "sites", description = "Branch sites and their modems"),
        (name = "health", description = "Liveness, readiness and metrics"),
        (name = "admin", description = "Administrators: login, API keys and sites"),
    )
)]
pub struct ApiDoc;

/// Adds the two ways to present an API key.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
