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
        ("/api/v1/sites", "get"),
        ("/api/v1/sites/{id}", "get"),
        ("/api/health", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/admin/keys", "get"),
        ("/api/v1/admin/keys", "post"),
        ("/api/v1/admin/keys/{prefix}/revoke", "post"),
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
