//! `GET /api/v1/messages` and `GET /api/v1/messages/{id}`: filters, pagination, and that a
//! key sees only its own messages.

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app, status_json};

async fn send(app: &TestApp, key: &str, phone: &str, text: &str) -> String {
    let (status, body) = status_json(
        app.send(key, &json!({"phone": phone, "content": text}))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().expect("id").to_owned()
}

async fn list(app: &TestApp, key: &str, query: &str) -> Value {
    let r = app
        .get(key, &format!("/api/v1/messages{query}"))
        .send()
        .await
        .expect("request");
    let (status, body) = status_json(r).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn ids(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn listing_filters_and_is_newest_first() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let a = send(&app, &key, "+33612345678", "one").await;
    let b = send(&app, &key, "+33612345679", "two").await;
    let c = send(&app, &key, "+33612345678", "three").await;
    sqlx::query("UPDATE messages SET status = 'sent', sent_at = now() WHERE id = $1::uuid")
        .bind(&b)
        .execute(&app.db)
        .await
        .expect("update");

    assert_eq!(
        ids(&list(&app, &key, "").await),
        [c.clone(), b.clone(), a.clone()]
    );
    assert_eq!(ids(&list(&app, &key, "?status=sent").await), [b.as_str()]);
    assert_eq!(
        ids(&list(&app, &key, "?status=queued").await),
        [c.clone(), a.clone()]
    );
    assert_eq!(
        ids(&list(&app, &key, "?phone=%2B33612345678").await),
        [c.clone(), a.clone()]
    );
    assert_eq!(
        ids(&list(&app, &key, "?direction=outbound&site=main").await).len(),
        3
    );
    assert!(ids(&list(&app, &key, "?direction=inbound").await).is_empty());
    assert_eq!(
        ids(&list(&app, &key, "?direction=outgoing&site=main").await).len(),
        3
    );
    assert!(ids(&list(&app, &key, "?direction=incoming").await).is_empty());
    assert!(ids(&list(&app, &key, "?site=other").await).is_empty());
    assert_eq!(
        ids(&list(&app, &key, "?since=2000-01-01T00:00:00Z").await).len(),
        3
    );
    assert!(ids(&list(&app, &key, "?until=2000-01-01T00:00:00Z").await).is_empty());
    assert_eq!(
        ids(&list(&app, &key, "?limit=1&offset=1").await),
        [b.as_str()]
    );
    let page = list(&app, &key, "").await;
    assert_eq!(page["limit"], 50);
    assert_eq!(page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn the_cursor_walks_every_message_once() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let mut sent = Vec::new();
    for i in 0..7 {
        sent.push(send(&app, &key, "+33612345678", &format!("m{i}")).await);
    }
    sent.reverse();
    let mut seen = Vec::new();
    let mut query = "?limit=3".to_owned();
    loop {
        let page = list(&app, &key, &query).await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, sent);
}

#[tokio::test]
async fn bad_list_queries_are_refused() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let cases = [
        ("?status=bogus", "unknown_status", "status"),
        ("?direction=sideways", "invalid_direction", "direction"),
        ("?limit=501", "limit_too_large", "limit"),
        ("?limit=0", "invalid_query", "limit"),
        ("?limit=ten", "invalid_query", "limit"),
        ("?offset=-1", "invalid_query", "offset"),
        ("?since=yesterday", "invalid_query", "since"),
        ("?cursor=bm9wZQ", "invalid_cursor", "cursor"),
        ("?phone=abc", "invalid_phone", "phone"),
        ("?site=Main", "invalid_site", "site"),
    ];
    for (query, code, field) in cases {
        let r = app
            .get(&key, &format!("/api/v1/messages{query}"))
            .send()
            .await
            .expect("request");
        assert!(
            r.headers().contains_key("x-ratelimit-limit"),
            "headers on errors too"
        );
        assert_problem(r, 400, code, Some(field)).await;
    }
}

#[tokio::test]
async fn a_key_sees_only_its_own_messages() {
    let app = spawn_app().await;
    let mine = app.with_site_and_key().await;
    let theirs = app.create_key(10, None).await;
    let id = send(&app, &mine, "+33612345678", "secret").await;

    assert!(ids(&list(&app, &theirs, "").await).is_empty());
    let r = app
        .get(&theirs, &format!("/api/v1/messages/{id}"))
        .send()
        .await
        .expect("request");
    assert_problem(r, 404, "not_found", None).await;
    let r = app
        .get(&mine, "/api/v1/messages/not-a-uuid")
        .send()
        .await
        .expect("request");
    assert_problem(r, 404, "not_found", None).await;
    let r = app
        .get(&mine, &format!("/api/v1/messages/{}", uuid::Uuid::now_v7()))
        .send()
        .await
        .expect("request");
    assert_problem(r, 404, "not_found", None).await;
}

#[tokio::test]
async fn inbound_messages_are_seen_by_keys_of_their_site() {
    let app = spawn_app().await;
    app.create_site("paris").await;
    app.create_site("lyon").await;
    let any = app.create_key(10, None).await;
    let paris = app.create_key(10, Some("paris")).await;
    let lyon = app.create_key(10, Some("lyon")).await;
    let id = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO messages (id, direction, site_id, phone, content, encoding, segments, status, received_at)
         VALUES ($1, 'inbound', 'paris', '+33612345678', 'hello', 'gsm7', 1, 'received', now())",
    )
    .bind(id)
    .execute(&app.db)
    .await
    .expect("insert");
    let id = id.to_string();
    assert_eq!(
        ids(&list(&app, &any, "?direction=inbound").await),
        [id.as_str()]
    );
    assert_eq!(
        ids(&list(&app, &paris, "?status=received").await),
        [id.as_str()]
    );
    assert!(ids(&list(&app, &lyon, "").await).is_empty());
    let r = app
        .get(&paris, &format!("/api/v1/messages/{id}"))
        .send()
        .await
        .expect("request");
    let (status, body) = status_json(r).await;
    assert_eq!(
        (status, body["direction"].as_str()),
        (200, Some("incoming"))
    );
    assert!(body["timestamps"]["received"].is_string());
}
