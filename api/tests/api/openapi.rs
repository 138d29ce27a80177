//! The OpenAPI document and Swagger UI.

use crate::helpers::{spawn_app, status_json};

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/api/openapi.json", app.address))
        .send()
        .await
        .expect("request");
    let (status, doc) = status_json(r).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/v1/messages", "post"),
        ("/api/v1/messages", "get"),
        ("/api/v1/messages/{id}", "get"),
        ("/api/v1/messages/{id}/cancel", "post"),
        ("/api/v1/messages/{id}", "delete"),
        ("/api/v1/sites", "get"),
        ("/api/v1/sites/{id}", "get"),
        ("/api/health", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/admin/keys", "get"),
        ("/api/v1/admin/keys", "post"),
        ("/api/v1/admin/keys/{prefix}", "patch"),
        ("/api/v1/admin/keys/{prefix}/revoke", "post"),
        ("/api/v1/admin/dead-letters", "get"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/admin/sites", "get"),
        ("/api/v1/admin/sites", "post"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    let send = &paths["/api/v1/messages"]["post"];
    assert!(
        send["responses"]["422"]["content"]["application/problem+json"].is_object(),
        "{send}"
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    // The fields of this release, each in its schema.
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("KeyView", "sites"),
        ("KeyView", "permissions"),
        ("CreateKeyRequest", "permissions"),
        ("UpdateKeyRequest", "sites"),
        ("MessageView", "erased_at"),
        ("MessageView", "sender_raw"),
        ("LoginResponse", "csrf_token"),
        ("HealthView", "modem"),
        ("HealthView", "queue"),
        ("HealthView", "broker"),
        ("ModemSummary", "signal_strength"),
        ("QueueSummary", "executing"),
        ("DeadLetterView", "payload_base64"),
    ] {
        assert!(
            schemas[schema]["properties"][field].is_object(),
            "{schema}.{field} missing"
        );
    }
    let statuses = schemas["Status"].to_string();
    for status in ["healthy", "degraded", "unhealthy"] {
        assert!(statuses.contains(status), "{statuses}");
    }
    // Every refusal of those endpoints is documented.
    for (path, method, status) in [
        ("/api/v1/messages", "post", "403"),
        ("/api/v1/messages/{id}", "delete", "409"),
        ("/api/v1/auth/login", "post", "429"),
        ("/api/v1/auth/login", "post", "415"),
        ("/api/v1/admin/keys/{prefix}", "patch", "403"),
        ("/api/health", "get", "503"),
    ] {
        assert!(
            paths[path][method]["responses"][status].is_object(),
            "{method} {path} {status}"
        );
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());

    let r = app
        .client
        .get(format!("{}/api/docs/", app.address))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert!(
        r.text().await.expect("text").contains("swagger"),
        "Swagger UI page"
    );
}
