//! API key authentication: missing, malformed, unknown and revoked keys, both headers.

use serde_json::json;
use smsgw_api::store;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn a_valid_key_works_in_either_header() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let r = app
        .get(&key, "/api/v1/messages")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .get(format!("{}/api/v1/messages", app.address))
        .bearer_auth(&key)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-limit"], "1000");
}

#[tokio::test]
async fn missing_malformed_unknown_and_revoked_keys_are_refused() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let url = format!("{}/api/v1/messages", app.address);
    let body = json!({"phone": "+33612345678", "content": "hi"});

    let r = app
        .client
        .post(&url)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(r.headers().contains_key("www-authenticate"));
    assert_problem(r, 401, "missing_api_key", None).await;

    for bad in ["nonsense", "sk_live_short", "Basic abc"] {
        let r = app
            .client
            .post(&url)
            .header("x-api-key", bad)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_problem(r, 401, "invalid_api_key", None).await;
    }
    let r = app
        .client
        .post(&url)
        .header("authorization", "Basic abc")
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_problem(r, 401, "invalid_api_key", None).await;

    let unknown = format!("sk_live_{}", "A".repeat(32));
    let r = app
        .client
        .post(&url)
        .header("x-api-key", unknown)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_problem(r, 401, "invalid_api_key", None).await;

    let prefix = &key[..16];
    store::keys::revoke(&app.db, prefix).await.expect("revoke");
    let r = app.send(&key, &body).await;
    assert_problem(r, 401, "revoked_api_key", None).await;

    assert_eq!(app.message_count().await, 0, "nothing stored");
}

#[tokio::test]
async fn last_use_is_recorded() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    app.get(&key, "/api/v1/messages")
        .send()
        .await
        .expect("request");
    let used: Option<time::OffsetDateTime> =
        sqlx::query_scalar("SELECT last_used_at FROM api_keys")
            .fetch_one(&app.db)
            .await
            .expect("row");
    assert!(used.is_some());
}

/// `POST /api/v1/messages` with `key` and a raw body.
async fn send_raw(app: &crate::helpers::TestApp, key: &str, body: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/messages", app.address))
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn sending_judges_the_key_before_the_body() {
    // Sending looks its key up with the batch that stores the message, not in the
    // middleware: the key must still come first, and every answer to a valid key still
    // shows the budget.
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let unknown = "sk_live_00000000000000000000000000000000";
    for body in ["{not json", r#"{"phone": "12", "content": "x"}"#] {
        assert_problem(
            send_raw(&app, unknown, body).await,
            401,
            "invalid_api_key",
            None,
        )
        .await;
    }

    let r = send_raw(&app, &key, "{not json").await;
    assert_eq!(r.headers()["x-ratelimit-remaining"], "1000");
    assert_problem(r, 400, "malformed_json", None).await;
    let r = send_raw(&app, &key, r#"{"phone": "12", "content": "x"}"#).await;
    assert_eq!(r.headers()["x-ratelimit-remaining"], "1000");
    assert_problem(r, 422, "invalid_phone", Some("phone")).await;

    let revoked = app.create_key(5, None).await;
    let prefix = &revoked[..16];
    store::keys::revoke(&app.db, prefix).await.expect("revoke");
    let r = send_raw(&app, &revoked, r#"{"phone": "12", "content": "x"}"#).await;
    assert_problem(r, 401, "revoked_api_key", None).await;
    assert_eq!(app.message_count().await, 0);
}
