//! Scoped API keys: the sites a key may use and its permissions (`send`, `read`,
//! `inbound`, `sites`), and keys made before scopes keeping what they could do.

use serde_json::{Value, json};
use smsgw_api::{MIGRATOR, domain::key_scope::KeyScope};

use crate::helpers::{
    TestApp, assert_problem, create_database, spawn_app, spawn_app_on, status_json,
};

fn scope(sites: Option<&[&str]>, permissions: Option<&[&str]>) -> KeyScope {
    let owned = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let sites = sites.map(owned);
    let permissions = permissions.map(owned);
    KeyScope::parse(sites.as_deref(), None, permissions.as_deref()).expect("scope")
}

async fn three_sites() -> TestApp {
    let app = spawn_app().await;
    for site in ["paris", "lyon", "nice"] {
        app.create_site(site).await;
    }
    app
}

async fn inbound(app: &TestApp, site: &str, text: &str) {
    sqlx::query(
        "INSERT INTO messages (id, direction, site_id, phone, content, encoding, segments, status, received_at)
         VALUES ($1, 'inbound', $2, '+33612345678', $3, 'gsm7', 1, 'received', now())",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(site)
    .bind(text)
    .execute(&app.db)
    .await
    .expect("inbound");
}

/// Sends `site` (or no site) with `key`; the site the stored message went to.
async fn sent_through(app: &TestApp, key: &str, site: Option<&str>) -> String {
    let mut body = json!({"phone": "+33612345678", "content": "hi"});
    if let Some(site) = site {
        body["site"] = Value::from(site);
    }
    let (status, body) = status_json(app.send(key, &body).await).await;
    assert_eq!(status, 201, "{body}");
    body["site"].as_str().expect("site").to_owned()
}

async fn texts(app: &TestApp, key: &str, query: &str) -> Vec<String> {
    let r = app
        .get(key, &format!("/api/v1/messages{query}"))
        .send()
        .await
        .expect("list");
    let (status, body) = status_json(r).await;
    assert_eq!(status, 200, "{body}");
    let mut texts: Vec<String> = body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["content"].as_str().expect("content").to_owned())
        .collect();
    texts.sort();
    texts
}

#[tokio::test]
async fn a_key_sends_only_through_its_sites() {
    let app = three_sites().await;
    // Without a scope the router would pick nice: the only online site.
    app.set_presence("nice", "online").await;
    let key = app
        .create_scoped_key(100, scope(Some(&["paris", "lyon"]), None))
        .await;
    for outside in ["nice", "nowhere"] {
        let r = app
            .send(
                &key,
                &json!({"phone": "+33612345678", "content": "hi", "site": outside}),
            )
            .await;
        assert_eq!(r.headers()["x-ratelimit-remaining"], "100");
        let body = assert_problem(r, 403, "site_not_allowed", Some("site")).await;
        assert!(body["detail"].as_str().expect("detail").contains(outside));
    }
    assert_eq!(app.message_count().await, 0, "nothing stored");

    assert_eq!(sent_through(&app, &key, Some("lyon")).await, "lyon");
    let routed = sent_through(&app, &key, None).await;
    assert!(
        ["paris", "lyon"].contains(&routed.as_str()),
        "routed to {routed}"
    );

    // A key of one site sends there by default.
    let paris = app
        .create_scoped_key(100, scope(Some(&["paris"]), None))
        .await;
    assert_eq!(sent_through(&app, &paris, None).await, "paris");
}

#[tokio::test]
async fn a_key_without_send_can_neither_send_nor_cancel() {
    let app = three_sites().await;
    let sender = app.create_key(100, Some("paris")).await;
    let (_, sent) = status_json(
        app.send(&sender, &json!({"phone": "+33612345678", "content": "hi"}))
            .await,
    )
    .await;
    let reader = app
        .create_scoped_key(100, scope(None, Some(&["read"])))
        .await;
    let r = app
        .send(&reader, &json!({"phone": "+33612345678", "content": "hi"}))
        .await;
    let body = assert_problem(r, 403, "permission_denied", None).await;
    assert!(
        body["detail"].as_str().expect("detail").contains("send"),
        "{body}"
    );
    // An idempotency key is not even claimed.
    let r = app
        .client
        .post(format!("{}/api/v1/messages", app.address))
        .header("x-api-key", &reader)
        .header("idempotency-key", "k1")
        .json(&json!({"phone": "+33612345678", "content": "hi"}))
        .send()
        .await
        .expect("request");
    assert_problem(r, 403, "permission_denied", None).await;
    assert_eq!(app.message_count().await, 1);
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_records")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(records, 0);

    let canceler = app
        .create_scoped_key(100, scope(None, Some(&["read", "inbound"])))
        .await;
    let r = app
        .cancel(&canceler, sent["id"].as_str().expect("id"))
        .await;
    assert_problem(r, 403, "permission_denied", None).await;
}

#[tokio::test]
async fn inbound_sms_are_read_only_at_the_keys_sites_and_with_inbound() {
    let app = three_sites().await;
    inbound(&app, "paris", "to paris").await;
    inbound(&app, "lyon", "to lyon").await;

    let paris = app
        .create_scoped_key(100, scope(Some(&["paris"]), None))
        .await;
    assert_eq!(
        texts(&app, &paris, "?direction=inbound").await,
        ["to paris"]
    );
    let two = app
        .create_scoped_key(100, scope(Some(&["paris", "lyon"]), None))
        .await;
    assert_eq!(
        texts(&app, &two, "?direction=inbound").await,
        ["to lyon", "to paris"]
    );
    let lyon_id: String =
        sqlx::query_scalar("SELECT id::text FROM messages WHERE site_id = 'lyon'")
            .fetch_one(&app.db)
            .await
            .expect("id");
    let r = app
        .get(&paris, &format!("/api/v1/messages/{lyon_id}"))
        .send()
        .await
        .expect("get");
    assert_problem(r, 404, "not_found", None).await;

    // `read` alone: its own messages, no inbound SMS at all.
    let reader = app
        .create_scoped_key(100, scope(None, Some(&["send", "read"])))
        .await;
    app.send(
        &reader,
        &json!({"phone": "+33612345678", "content": "mine", "site": "nice"}),
    )
    .await;
    assert_eq!(texts(&app, &reader, "").await, ["mine"]);
    // `inbound` alone: the SMS received, not even its own sent messages.
    let listener = app
        .create_scoped_key(100, scope(None, Some(&["inbound"])))
        .await;
    assert_eq!(texts(&app, &listener, "").await, ["to lyon", "to paris"]);
    // Neither: refused.
    let sites_only = app
        .create_scoped_key(100, scope(None, Some(&["sites"])))
        .await;
    let r = app
        .get(&sites_only, "/api/v1/messages")
        .send()
        .await
        .expect("list");
    assert_problem(r, 403, "permission_denied", None).await;
}

#[tokio::test]
async fn site_details_need_the_sites_permission_and_show_only_the_keys_sites() {
    let app = three_sites().await;
    sqlx::query("INSERT INTO modems (site_id, id, state) VALUES ('lyon', 'usb0', $1)")
        .bind(json!({"imei": "861234567890123", "operator": "Orange F"}))
        .execute(&app.db)
        .await
        .expect("modem");

    let paris = app
        .create_scoped_key(100, scope(Some(&["paris"]), None))
        .await;
    let (status, body) =
        status_json(app.get(&paris, "/api/v1/sites").send().await.expect("list")).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = body["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["paris"]);
    for other in ["lyon", "nowhere"] {
        let r = app
            .get(&paris, &format!("/api/v1/sites/{other}"))
            .send()
            .await
            .expect("get");
        let body = assert_problem(r, 403, "site_not_allowed", None).await;
        assert!(!body.to_string().contains("861234567890123"));
    }
    let r = app
        .get(&paris, "/api/v1/sites/paris")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);

    let no_sites = app
        .create_scoped_key(100, scope(None, Some(&["send", "read", "inbound"])))
        .await;
    for path in ["/api/v1/sites", "/api/v1/sites/lyon"] {
        let r = app.get(&no_sites, path).send().await.expect("get");
        let body = assert_problem(r, 403, "permission_denied", None).await;
        assert!(
            body["detail"].as_str().expect("detail").contains("sites"),
            "{body}"
        );
    }
}

/// A key stored before scopes existed (the migration runs over it) may still send
/// through any site and read the inbound SMS of its default site, as it always could.
#[tokio::test]
async fn keys_made_before_scopes_keep_what_they_could_do() {
    let db_url = create_database().await;
    let db = sqlx::PgPool::connect(&db_url).await.expect("connect");
    MIGRATOR
        .run_to(20261126000001, &db)
        .await
        .expect("old schema");
    let app_key = "sk_live_0123456789abcdefABCDEF0123456789";
    let pepper =
        smsgw_api::domain::api_key::KeyPepper::new(crate::helpers::PEPPER).expect("pepper");
    let secret = smsgw_api::domain::api_key::ApiKeySecret::parse(app_key).expect("key");
    sqlx::query("INSERT INTO sites (id) VALUES ('paris'), ('lyon')")
        .execute(&db)
        .await
        .expect("sites");
    sqlx::query(
        "INSERT INTO api_keys (prefix, hash, name, rate_limit, default_site)
         VALUES ($1, $2, 'legacy', 100, 'paris')",
    )
    .bind(secret.prefix())
    .bind(pepper.hash(&secret))
    .execute(&db)
    .await
    .expect("an old key");

    let app = spawn_app_on(&db_url).await;
    assert_eq!(sent_through(&app, app_key, Some("lyon")).await, "lyon");
    assert_eq!(sent_through(&app, app_key, None).await, "paris");
    inbound(&app, "paris", "to paris").await;
    inbound(&app, "lyon", "to lyon").await;
    assert_eq!(
        texts(&app, app_key, "?direction=inbound").await,
        ["to paris"]
    );
    let r = app
        .get(app_key, "/api/v1/sites/lyon")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
}
