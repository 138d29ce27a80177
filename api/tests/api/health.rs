//! Liveness, readiness, the seed's health answer and the metrics endpoint.

use serde_json::json;

use crate::helpers::{spawn_app, status_json};

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("request");
    assert_eq!(status_json(r).await, (200, json!({"status": "ok"})));
    let r = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("request");
    assert_eq!(status_json(r).await.0, 200);
}

#[tokio::test]
async fn api_health_has_the_seed_shape_and_every_site() {
    let app = spawn_app().await;
    app.create_site("paris").await;
    app.create_site("lyon").await;
    app.set_presence("paris", "online").await;
    let key = app.create_key(100, Some("paris")).await;
    app.send(&key, &json!({"phone": "+33612345678", "content": "hi"}))
        .await;

    let r = app
        .client
        .get(format!("{}/api/health", app.address))
        .send()
        .await
        .expect("request");
    let (status, body) = status_json(r).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "connected");
    assert_eq!(body["modem"], "connected");
    assert_eq!(body["queue"], 1);
    let sites = body["sites"].as_array().expect("sites");
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[0]["id"], "lyon");
    assert_eq!(sites[1]["id"], "paris");
    assert_eq!(sites[1]["presence"], "online");
    assert_eq!(sites[1]["queue"], 1);
    assert_eq!(sites[1]["modem_count"], 0);
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/nope", app.address))
        .send()
        .await
        .expect("request");
    let (status, body) = status_json(r).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let r = app
        .client
        .delete(format!("{}/healthz", app.address))
        .send()
        .await
        .expect("request");
    let (status, body) = status_json(r).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
}

#[tokio::test]
async fn metrics_use_route_templates_not_raw_paths() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let r = app
        .send(&key, &json!({"phone": "+33612345678", "content": "hi"}))
        .await;
    let id = r.json::<serde_json::Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.get(&key, &format!("/api/v1/messages/{id}"))
        .send()
        .await
        .expect("request");

    let text = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    assert!(text.contains("smsgw_http_requests_total"), "{text}");
    assert!(text.contains(r#"route="/api/v1/messages/{id}""#), "{text}");
    assert!(text.contains("smsgw_messages_accepted_total"), "{text}");
    assert!(text.contains("smsgw_accept_batches_total"), "{text}");
    assert!(
        text.contains("smsgw_accept_batched_requests_total"),
        "{text}"
    );
    assert!(!text.contains(&id), "no ids in labels");
    assert!(!text.contains("33612345678"), "no phone numbers in labels");
}
