//! `Idempotency-Key`: the same key and body give the same answer and one message; another
//! body is refused.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app, status_json};

async fn send_with(app: &TestApp, key: &str, idem: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/messages", app.address))
        .header("x-api-key", key)
        .header("idempotency-key", idem)
        .json(body)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn a_repeat_gets_the_same_answer_and_no_second_message() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let body = json!({"phone": "+33612345678", "content": "once", "metadata": {"a": 1, "b": 2}});
    let (s1, first) = status_json(send_with(&app, &key, "order-42", &body).await).await;
    // Same document, other key order: the same request.
    let reordered: Value = serde_json::from_str(
        r#"{"metadata": {"b": 2, "a": 1}, "content": "once", "phone": "+33612345678"}"#,
    )
    .expect("json");
    let r = send_with(&app, &key, "order-42", &reordered).await;
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    let (s2, second) = status_json(r).await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(first, second);
    assert_eq!(app.message_count().await, 1);

    // The same idempotency key of another API key is another request.
    let other = app.create_key(10, None).await;
    let (s3, third) = status_json(send_with(&app, &other, "order-42", &body).await).await;
    assert_eq!(s3, 201);
    assert_ne!(third["id"], first["id"]);
}

#[tokio::test]
async fn another_body_with_the_same_key_is_refused() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let body = json!({"phone": "+33612345678", "content": "once"});
    assert_eq!(send_with(&app, &key, "k1", &body).await.status(), 201);
    let other = json!({"phone": "+33612345678", "content": "twice"});
    let r = send_with(&app, &key, "k1", &other).await;
    assert_problem(r, 422, "idempotency_conflict", None).await;
    assert_eq!(app.message_count().await, 1);
}

#[tokio::test]
async fn a_refused_request_leaves_no_record() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let bad = json!({"phone": "12", "content": "x"});
    assert_problem(
        send_with(&app, &key, "k2", &bad).await,
        422,
        "invalid_phone",
        Some("phone"),
    )
    .await;
    let good = json!({"phone": "+33612345678", "content": "x"});
    assert_eq!(send_with(&app, &key, "k2", &good).await.status(), 201);
}

#[tokio::test]
async fn concurrent_repeats_create_one_message() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let body = json!({"phone": "+33612345678", "content": "race"});
    let (a, b, c) = tokio::join!(
        send_with(&app, &key, "race", &body),
        send_with(&app, &key, "race", &body),
        send_with(&app, &key, "race", &body)
    );
    let mut ids = Vec::new();
    for r in [a, b, c] {
        let (status, body) = status_json(r).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].clone());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    assert_eq!(app.message_count().await, 1);
}

#[tokio::test]
async fn malformed_idempotency_keys_are_refused() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let body = json!({"phone": "+33612345678", "content": "x"});
    let long = "k".repeat(256);
    for bad in ["", "   ", long.as_str(), "a b"] {
        let r = send_with(&app, &key, bad, &body).await;
        assert_problem(r, 400, "invalid_idempotency_key", Some("Idempotency-Key")).await;
    }
    assert_eq!(app.message_count().await, 0);
}
