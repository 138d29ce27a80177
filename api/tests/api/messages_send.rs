//! `POST /api/v1/messages`: the happy path, routing, and every bad input with its problem
//! code — and that nothing was stored.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app, status_json};

#[tokio::test]
async fn a_message_is_stored_queued_with_its_history() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let r = app
        .send(
            &key,
            &json!({
                "phone": "+33 6 12 34 56 78", "content": "Hello €", "priority": 5,
                "delivery_report": true, "metadata": {"order": 42},
                "expires_at": "2999-01-01T00:00:00Z"
            }),
        )
        .await;
    let location = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert_eq!(r.headers()["x-ratelimit-remaining"], "999");
    let (status, body) = status_json(r).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().expect("id");
    assert_eq!(location, format!("/api/v1/messages/{id}"));
    assert_eq!(body["status"], "queued");
    assert_eq!(body["direction"], "outgoing");
    assert_eq!(body["phone"], "+33612345678");
    assert_eq!(body["content"], "Hello €");
    assert_eq!(body["encoding"], "gsm7");
    assert_eq!(body["segments"], 1);
    assert_eq!(body["site"], "main");
    assert_eq!(body["priority"], 5);
    assert_eq!(body["delivery_report"], true);
    assert_eq!(body["metadata"], json!({"order": 42}));
    assert_eq!(body["expires_at"], "2999-01-01T00:00:00Z");
    assert!(body["timestamps"]["queued"].is_string());

    let r = app.get(&key, &location).send().await.expect("request");
    let (status, read) = status_json(r).await;
    assert_eq!(status, 200);
    assert_eq!(read["id"], body["id"]);
    let history = read["history"].as_array().expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["state"], "queued");
    assert_eq!(history[0]["source"], "api");
    assert_eq!(app.message_count().await, 1);
}

#[tokio::test]
async fn to_and_text_are_accepted_and_long_unicode_is_counted() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let text = "Привет ".repeat(20);
    let r = app
        .send(&key, &json!({"to": "+33612345678", "text": text}))
        .await;
    let (status, body) = status_json(r).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["encoding"], "ucs2");
    assert_eq!(body["segments"], 3);
}

#[tokio::test]
async fn national_numbers_need_a_default_region() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let r = app
        .send(&key, &json!({"phone": "06 12 34 56 78", "content": "hi"}))
        .await;
    assert_problem(r, 422, "invalid_phone", Some("phone")).await;
}

async fn refused(
    app: &TestApp,
    key: &str,
    body: Value,
    status: u16,
    code: &str,
    field: Option<&str>,
) {
    let r = app.send(key, &body).await;
    assert_problem(r, status, code, field).await;
}

#[tokio::test]
async fn every_bad_body_is_refused_with_its_code_and_nothing_is_stored() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let ok_phone = "+33612345678";
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (
            json!({"content": "hi"}),
            422,
            "missing_field",
            Some("phone"),
        ),
        (
            json!({"phone": ok_phone}),
            422,
            "missing_field",
            Some("content"),
        ),
        (
            json!({"phone": 33612345678_u64, "content": "hi"}),
            422,
            "invalid_type",
            Some("phone"),
        ),
        (
            json!({"phone": ok_phone, "content": ["hi"]}),
            422,
            "invalid_type",
            Some("content"),
        ),
        (
            json!({"phone": ok_phone, "content": "hi", "priority": "high"}),
            422,
            "invalid_type",
            Some("priority"),
        ),
        (
            json!({"phone": ok_phone, "content": "hi", "delivery_report": "yes"}),
            422,
            "invalid_type",
            Some("delivery_report"),
        ),
        (json!(["not", "an", "object"]), 422, "invalid_type", None),
        (
            json!({"phone": "12", "content": "hi"}),
            422,
            "invalid_phone",
            Some("phone"),
        ),
        (
            json!({"phone": "+33 abc", "content": "hi"}),
            422,
            "invalid_phone",
            Some("phone"),
        ),
        (
            json!({"to": "", "content": "hi"}),
            422,
            "invalid_phone",
            Some("to"),
        ),
        (
            json!({"phone": ok_phone, "content": ""}),
            422,
            "empty_text",
            Some("content"),
        ),
        (
            json!({"phone": ok_phone, "text": "   "}),
            422,
            "empty_text",
            Some("text"),
        ),
        (
            json!({"phone": ok_phone, "content": "x".repeat(613)}),
            422,
            "text_too_long",
            Some("content"),
        ),
        (
            json!({"phone": ok_phone, "content": "я".repeat(269)}),
            422,
            "text_too_long",
            Some("content"),
        ),
        (
            json!({"phone": ok_phone, "content": "a\u{0}b"}),
            422,
            "invalid_text",
            Some("content"),
        ),
        (
            json!({"phone": ok_phone, "text": "bell\u{7}"}),
            422,
            "invalid_text",
            Some("text"),
        ),
        (
            json!({"phone": ok_phone, "content": "hi", "metadata": {"a": [{"b": "x\u{0}"}]}}),
            422,
            "invalid_metadata",
            Some("metadata"),
        ),
        (
            json!({"phone": ok_phone, "content": "hi", "metadata": {"k\u{0}": 1}}),
            422,
            "invalid_metadata",
            Some("metadata"),
        ),
        (
            json!({"phone": ok_phone, "to": "+33612345679", "content": "hi"}),
            422,
            "conflicting_fields",
            Some("to"),
        ),
        (
            json!({"phone": ok_phone, "content": "hi", "site": "Main!"}),
            422,
            "invalid_site",
            Some("site"),
        ),
        (
            json!({"phone": ok_phone, "content": "hi", "site": "elsewhere"}),
            422,
            "unknown_site",
            Some("site"),
        ),
        (
            json!({"phone": ok_phone, "content": "hi", "modem": "-x"}),
            422,
            "invalid_modem",
            Some("modem"),
        ),
        (
            json!({"phone": ok_phone, "content": "hi", "expires_at": "soon"}),
            422,
            "invalid_expires_at",
            Some("expires_at"),
        ),
        (
            json!({"phone": ok_phone, "content": "hi", "expires_at": "2001-01-01T00:00:00Z"}),
            422,
            "expires_at_in_past",
            Some("expires_at"),
        ),
        (
            json!({"phone": ok_phone, "content": "hi", "priority": 500}),
            422,
            "invalid_priority",
            Some("priority"),
        ),
        (
            json!({"phone": ok_phone, "content": "hi", "metadata": "x"}),
            422,
            "invalid_metadata",
            Some("metadata"),
        ),
        (
            json!({"phone": ok_phone, "content": "hi", "metadata": {"x": "y".repeat(5000)}}),
            422,
            "invalid_metadata",
            Some("metadata"),
        ),
    ];
    for (body, status, code, field) in cases {
        refused(&app, &key, body, status, code, field).await;
    }
    assert_eq!(app.message_count().await, 0, "nothing stored");
    let spent: i64 =
        sqlx::query_scalar("SELECT coalesce(sum(count), 0)::bigint FROM rate_limit_windows")
            .fetch_one(&app.db)
            .await
            .expect("count");
    assert_eq!(spent, 0, "refused requests spend no rate limit");
}

#[tokio::test]
async fn malformed_oversize_and_non_json_bodies_are_refused() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let url = format!("{}/api/v1/messages", app.address);
    let post = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(&url)
            .header("x-api-key", &key)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let r = post(b"{\"phone\": ".to_vec(), "application/json")
        .await
        .expect("request");
    assert_problem(r, 400, "malformed_json", None).await;
    let r = post(b"".to_vec(), "application/json")
        .await
        .expect("request");
    assert_problem(r, 400, "malformed_json", None).await;
    let r = post(b"phone=1".to_vec(), "application/x-www-form-urlencoded")
        .await
        .expect("request");
    assert_problem(r, 415, "unsupported_media_type", None).await;
    let big = serde_json::to_vec(&json!({"phone": "+33612345678", "content": "x".repeat(70_000)}))
        .expect("json");
    let r = post(big, "application/json").await.expect("request");
    assert_problem(r, 413, "payload_too_large", None).await;
    assert_eq!(app.message_count().await, 0, "nothing stored");
}

#[tokio::test]
async fn a_body_without_content_type_is_read_as_json() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let r = app
        .client
        .post(format!("{}/api/v1/messages", app.address))
        .header("x-api-key", &key)
        .body(r#"{"phone": "+33612345678", "content": "hi"}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn without_any_site_the_answer_is_409() {
    let app = spawn_app().await;
    let key = app.create_key(10, None).await;
    let r = app
        .send(&key, &json!({"phone": "+33612345678", "content": "hi"}))
        .await;
    assert_problem(r, 409, "no_site", None).await;
    assert_eq!(app.message_count().await, 0);
}

async fn site_of(app: &TestApp, key: &str, body: Value) -> String {
    let (status, body) = status_json(app.send(key, &body).await).await;
    assert_eq!(status, 201, "{body}");
    body["site"].as_str().expect("site").to_owned()
}

#[tokio::test]
async fn routing_explicit_then_key_default_then_only_site_then_shortest_online_queue() {
    let app = spawn_app().await;
    let hi = json!({"phone": "+33612345678", "content": "hi"});

    app.create_site("alpha").await;
    let key = app.create_key(1000, None).await;
    assert_eq!(
        site_of(&app, &key, hi.clone()).await,
        "alpha",
        "the only site, even offline"
    );

    app.create_site("beta").await;
    app.create_site("gamma").await;
    app.set_presence("beta", "online").await;
    app.set_presence("gamma", "online").await;
    // alpha (offline) has 1 queued; beta and gamma are online and empty: beta by id.
    assert_eq!(site_of(&app, &key, hi.clone()).await, "beta");
    assert_eq!(
        site_of(&app, &key, hi.clone()).await,
        "gamma",
        "shortest queue"
    );
    assert_eq!(site_of(&app, &key, hi.clone()).await, "beta");

    let mut explicit = hi.clone();
    explicit["site"] = json!("alpha");
    assert_eq!(
        site_of(&app, &key, explicit).await,
        "alpha",
        "explicit site"
    );

    let pinned = app.create_key(1000, Some("gamma")).await;
    assert_eq!(
        site_of(&app, &pinned, hi.clone()).await,
        "gamma",
        "key default"
    );
    let mut explicit = hi;
    explicit["site"] = json!("beta");
    explicit["modem"] = json!("usb0");
    let (status, body) = status_json(app.send(&pinned, &explicit).await).await;
    assert_eq!(
        (status, body["site"].as_str(), body["modem"].as_str()),
        (201, Some("beta"), Some("usb0"))
    );
}
