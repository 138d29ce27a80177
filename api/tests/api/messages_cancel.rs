//! `POST /api/v1/messages/{id}/cancel`.

use serde_json::json;

use crate::helpers::{assert_problem, spawn_app, status_json};

#[tokio::test]
async fn a_queued_message_is_canceled_once_and_its_history_says_so() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let (_, sent) = status_json(
        app.send(&key, &json!({"phone": "+33612345678", "content": "hi"}))
            .await,
    )
    .await;
    let id = sent["id"].as_str().expect("id");
    for _ in 0..2 {
        let (status, body) = status_json(app.cancel(&key, id).await).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("canceled")),
            "{body}"
        );
        assert!(body["timestamps"]["canceled"].is_string());
    }
    let r = app
        .get(&key, &format!("/api/v1/messages/{id}"))
        .send()
        .await
        .expect("request");
    let (_, body) = status_json(r).await;
    let states: Vec<&str> = body["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|e| e["state"].as_str().expect("state"))
        .collect();
    assert_eq!(
        states,
        ["queued", "canceled"],
        "canceling twice records it once"
    );
}

#[tokio::test]
async fn sent_foreign_and_unknown_messages_cannot_be_canceled() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let other = app.create_key(10, None).await;
    let (_, sent) = status_json(
        app.send(&key, &json!({"phone": "+33612345678", "content": "hi"}))
            .await,
    )
    .await;
    let id = sent["id"].as_str().expect("id");
    let cancel = |key: &str, id: &str| {
        app.client
            .post(format!("{}/api/v1/messages/{id}/cancel", app.address))
            .header("x-api-key", key)
            .send()
    };
    assert_problem(
        cancel(&other, id).await.expect("request"),
        404,
        "not_found",
        None,
    )
    .await;
    assert_problem(
        cancel(&key, "nope").await.expect("request"),
        404,
        "not_found",
        None,
    )
    .await;
    sqlx::query("UPDATE messages SET status = 'sending', sending_at = now() WHERE id = $1::uuid")
        .bind(id)
        .execute(&app.db)
        .await
        .expect("update");
    assert_problem(
        cancel(&key, id).await.expect("request"),
        409,
        "not_cancelable",
        None,
    )
    .await;
}
