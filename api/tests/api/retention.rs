//! Retention (`SMSGW_RETENTION_DAYS`): finished messages with their history, inbound SMS
//! and dead letters past it are deleted in bounded batches claimed with SKIP LOCKED; and
//! erasure (`DELETE /api/v1/messages/{id}`) of a message's number and text.

use std::time::Duration;

use serde_json::{Value, json};
use smsgw_api::{
    config::{Secret, ServeConfig},
    jobs::retention::{Purged, purge_all, purge_batch, run},
};

use crate::helpers::{
    JWT_SECRET, PEPPER, TestApp, assert_problem, spawn_app, spawn_app_with, status_json,
};

/// A message of `main` created `days_ago` days ago with `status` and one history entry.
async fn message_aged(app: &TestApp, key_id: i64, days_ago: i32, status: &str) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    let (direction, owner) = if status == "received" {
        ("inbound", None)
    } else {
        ("outbound", Some(key_id))
    };
    sqlx::query(
        "INSERT INTO messages (id, direction, site_id, phone, content, encoding, segments,
                               status, owner_key_id, created_at)
         VALUES ($1, $2, 'main', '+33612345678', 'old', 'gsm7', 1, $3, $4,
                 now() - make_interval(days => $5))",
    )
    .bind(id)
    .bind(direction)
    .bind(status)
    .bind(owner)
    .bind(days_ago)
    .execute(&app.db)
    .await
    .expect("message");
    sqlx::query(
        "INSERT INTO message_events (event_id, message_id, state, source, at, applied)
         VALUES (gen_random_uuid(), $1, $2, 'api', now(), true)",
    )
    .bind(id)
    .bind(status)
    .execute(&app.db)
    .await
    .expect("history");
    id
}

async fn dead_letter_aged(app: &TestApp, days_ago: i32) {
    sqlx::query(
        "INSERT INTO dead_letters (site_id, topic, kind, event_id, payload, reason, created_at)
         VALUES ('main', 'smsgw/main/event/inbound', 'event/inbound', gen_random_uuid(), '\\x00',
                 'test', now() - make_interval(days => $1))",
    )
    .bind(days_ago)
    .execute(&app.db)
    .await
    .expect("dead letter");
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.db)
        .await
        .expect("count")
}

async fn key_id(app: &TestApp) -> i64 {
    count(app, "SELECT min(id) FROM api_keys").await
}

#[tokio::test]
async fn finished_messages_past_the_retention_go_with_their_history_in_bounded_batches() {
    let app = spawn_app().await;
    app.with_site_and_key().await;
    let owner = key_id(&app).await;
    let mut doomed = Vec::new();
    for status in ["delivered", "failed", "received", "sent"] {
        doomed.push(message_aged(&app, owner, 400, status).await);
    }
    let in_flight = message_aged(&app, owner, 400, "queued").await;
    let recent = message_aged(&app, owner, 10, "delivered").await;
    dead_letter_aged(&app, 400).await;
    dead_letter_aged(&app, 10).await;

    assert_eq!(
        purge_batch(&app.db, 365, 3).await.expect("purge"),
        Purged {
            messages: 3,
            dead_letters: 1
        },
        "a batch is bounded"
    );
    assert_eq!(
        purge_all(&app.db, 365, 3, 0).await.expect("purge"),
        Purged {
            messages: 1,
            dead_letters: 0
        }
    );
    let left: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM messages ORDER BY id")
        .fetch_all(&app.db)
        .await
        .expect("left");
    assert_eq!(
        left,
        [in_flight, recent],
        "in flight and recent messages stay"
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM message_events").await,
        2,
        "history goes with its message"
    );
    assert_eq!(count(&app, "SELECT count(*) FROM dead_letters").await, 1);
}

#[tokio::test]
async fn a_purge_skips_rows_another_transaction_holds_instead_of_waiting() {
    let app = spawn_app().await;
    app.with_site_and_key().await;
    let owner = key_id(&app).await;
    let held = message_aged(&app, owner, 400, "delivered").await;
    let free = message_aged(&app, owner, 401, "delivered").await;
    // Another replica's purge (or a late delivery report) holds one row.
    let mut other = app.db.begin().await.expect("tx");
    sqlx::query("SELECT 1 FROM messages WHERE id = $1 FOR UPDATE")
        .bind(held)
        .execute(&mut *other)
        .await
        .expect("lock");
    let purged = tokio::time::timeout(Duration::from_secs(5), purge_batch(&app.db, 365, 10))
        .await
        .expect("the purge does not wait for the held row")
        .expect("purge");
    assert_eq!(purged.messages, 1);
    let gone: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE id = $1")
        .bind(free)
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(gone, 0);
    other.rollback().await.expect("rollback");
    assert_eq!(
        purge_batch(&app.db, 365, 10).await.expect("purge").messages,
        1
    );
}

async fn app_keeping(db_url: &str, days: u32) -> TestApp {
    let mut config = ServeConfig::for_database(db_url, PEPPER);
    config.jwt_secret = Some(Secret::new(JWT_SECRET));
    config.retention_days = days;
    spawn_app_with(config).await
}

#[tokio::test]
async fn a_replica_purges_by_itself_unless_the_retention_is_zero() {
    let app = spawn_app().await;
    app.with_site_and_key().await;
    let owner = key_id(&app).await;
    message_aged(&app, owner, 40, "delivered").await;
    message_aged(&app, owner, 5, "delivered").await;
    // 0 keeps everything: the loop does not even start.
    tokio::time::timeout(
        Duration::from_secs(1),
        run(app.db.clone(), 0, Duration::ZERO),
    )
    .await
    .expect("returns at once");
    let _keeps_all = app_keeping(&app.db_url, 0).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&app, "SELECT count(*) FROM messages").await, 2);

    let _keeps_a_month = app_keeping(&app.db_url, 30).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while count(&app, "SELECT count(*) FROM messages").await != 1 {
        assert!(tokio::time::Instant::now() < deadline, "never purged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn erase(app: &TestApp, key: &str, id: &str) -> reqwest::Response {
    app.client
        .delete(format!("{}/api/v1/messages/{id}", app.address))
        .header("x-api-key", key)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn erasing_a_message_blanks_its_number_and_text_and_keeps_a_tombstone() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let body = json!({"phone": "+33612345678", "content": "code 4711", "metadata": {"order": 1}});
    let send = || {
        app.client
            .post(format!("{}/api/v1/messages", app.address))
            .header("x-api-key", &key)
            .header("idempotency-key", "order-1")
            .json(&body)
            .send()
    };
    let (status, sent) = status_json(send().await.expect("send")).await;
    assert_eq!(status, 201, "{sent}");
    let id = sent["id"].as_str().expect("id").to_owned();

    // Still queued: the branch will need its number and text.
    let r = erase(&app, &key, &id).await;
    assert_problem(r, 409, "not_erasable", None).await;
    sqlx::query(
        "UPDATE messages SET status = 'delivered', delivered_at = now() WHERE id = $1::uuid",
    )
    .bind(&id)
    .execute(&app.db)
    .await
    .expect("delivered");

    let other = app.create_key(10, None).await;
    assert_problem(erase(&app, &other, &id).await, 404, "not_found", None).await;

    let (status, erased) = status_json(erase(&app, &key, &id).await).await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(
        (erased["phone"].as_str(), erased["content"].as_str()),
        (Some(""), Some(""))
    );
    assert!(
        erased["metadata"].is_null() && erased["erased_at"].is_string(),
        "{erased}"
    );
    assert_eq!(erased["status"], "delivered");
    assert!(
        erased["timestamps"]["delivered"].is_string(),
        "its states stay"
    );
    // Again: the same tombstone.
    let (status, again) = status_json(erase(&app, &key, &id).await).await;
    assert_eq!((status, &again["erased_at"]), (200, &erased["erased_at"]));

    let (_, read) = status_json(
        app.get(&key, &format!("/api/v1/messages/{id}"))
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(read["content"], "");
    assert!(!read["history"].as_array().expect("history").is_empty());
    // The stored idempotent answer is the tombstone too: a retry stores nothing new and
    // shows neither number nor text.
    let (status, replay) = status_json(send().await.expect("send")).await;
    assert_eq!((status, replay["id"].as_str()), (201, Some(id.as_str())));
    assert_eq!(replay["phone"], "");
    assert_eq!(app.message_count().await, 1);
    let traces = count(
        &app,
        "SELECT (SELECT count(*) FROM messages WHERE phone LIKE '%612345678%' OR content LIKE '%4711%')
              + (SELECT count(*) FROM idempotency_records
                 WHERE response_body::text LIKE '%612345678%' OR response_body::text LIKE '%4711%')",
    )
    .await;
    assert_eq!(traces, 0, "no trace of the number or the text");
}

#[tokio::test]
async fn an_inbound_sms_is_erased_by_a_key_that_reads_it() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let owner = key_id(&app).await;
    let id = message_aged(&app, owner, 0, "received").await;
    sqlx::query("UPDATE messages SET sender_raw = '+33 6 12 34 56 78' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .expect("raw sender");
    let (status, erased) = status_json(erase(&app, &key, &id.to_string()).await).await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["phone"], "");
    assert!(erased.get("sender_raw").is_none(), "{erased}");
    let listed: Value = app
        .get(&key, "/api/v1/messages?direction=inbound")
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["messages"][0]["content"], "");
}
