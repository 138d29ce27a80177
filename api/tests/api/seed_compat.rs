//! The original gateway's README, example by example
//! (`../shared/reference/original-gateway-README.txt`): a client written from it alone posts
//! exactly its requests and reads exactly its fields. Where smsgw deliberately differs, the
//! README's "Compatibility with the original gateway" section says so and why.

use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use uuid::Uuid;

use crate::{
    cli, health,
    helpers::{
        TestApp, clear_of_the_minute_turn, create_database, spawn_app, spawn_app_on, status_json,
    },
};

/// The README's request body, to the letter.
fn readme_request() -> Value {
    json!({
        "phone": "+33612345678",
        "content": "Votre code de vérification: 123456"
    })
}

/// `curl -X POST …/api/v1/messages -H "X-API-Key: …" -H "Content-Type: application/json" -d …`
async fn post_like_curl(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/messages", app.address))
        .header("X-API-Key", key)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

/// `GET path` with the key; the answer's JSON (it must be a 200).
async fn read(app: &TestApp, key: &str, path: &str) -> Value {
    let (status, body) = status_json(app.get(key, path).send().await.expect("request")).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// "Sauvegarder la clé (affichée une seule fois!) # sk_live_abc123…" and "Format: `sk_live_`
/// + 32 caractères aléatoires": a key is created with a name and a rate limit and shown once.
#[tokio::test]
async fn a_new_key_is_sk_live_and_32_random_characters() {
    let db_url = create_database().await;
    cli::ok(&db_url, &["migrate"]);
    let out = cli::ok(
        &db_url,
        &[
            "keys",
            "create",
            "--name",
            "Application Mobile",
            "--rate-limit",
            "100",
        ],
    );
    let key = out.trim();
    let random = key.strip_prefix("sk_live_").expect("sk_live_ prefix");
    assert_eq!(random.len(), 32, "{key}");
    assert!(random.bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");
    let again = cli::ok(&db_url, &["keys", "create", "--name", "other"]);
    assert_ne!(again.trim(), key, "keys are random");
    assert!(
        !cli::ok(&db_url, &["keys", "list"]).contains(key),
        "a key is shown once"
    );
}

/// "Envoyer un SMS via API" and its "Réponse": every field of the answer, with the
/// original's names and values.
#[tokio::test]
async fn the_readme_send_gets_the_readme_answer() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let before = OffsetDateTime::now_utc();
    let r = post_like_curl(&app, &key, &readme_request()).await;
    assert!(r.status().is_success(), "{}", r.status());
    let body: Value = r.json().await.expect("json");
    assert!(
        Uuid::parse_str(body["id"].as_str().expect("id")).is_ok(),
        "{body}"
    );
    assert_eq!(body["direction"], "outgoing", "{body}");
    assert_eq!(body["phone"], "+33612345678");
    assert_eq!(body["content"], "Votre code de vérification: 123456");
    assert_eq!(body["status"], "queued");
    let inserted =
        OffsetDateTime::parse(body["inserted_at"].as_str().expect("inserted_at"), &Rfc3339)
            .expect("RFC 3339");
    assert!(
        inserted >= before - time::Duration::seconds(5),
        "{inserted}"
    );
    assert!(
        body["inserted_at"].as_str().expect("string").ends_with('Z'),
        "UTC, as the original writes it: {body}"
    );

    // The message reads back the same way, alone and in the list by the original's direction.
    let id = body["id"].as_str().expect("id");
    let one = read(&app, &key, &format!("/api/v1/messages/{id}")).await;
    for field in [
        "id",
        "direction",
        "phone",
        "content",
        "status",
        "inserted_at",
    ] {
        assert_eq!(one[field], body[field], "{field}");
    }
    let list = read(&app, &key, "/api/v1/messages?direction=outgoing").await;
    assert_eq!(list["messages"][0]["id"], body["id"], "{list}");
    assert_eq!(list["messages"][0]["direction"], "outgoing");
}

/// "Headers retournés: X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset —
/// Réponse 429 si dépassé", for a key created with `rate_limit: 100`.
#[tokio::test]
async fn a_key_of_100_gets_the_rate_limit_headers_and_then_429() {
    let db_url = create_database().await;
    let app = spawn_app_on(&db_url).await;
    app.create_site("main").await;
    let key = app.create_key(100, None).await;
    clear_of_the_minute_turn().await;
    for sent in 1..=100u32 {
        let r = post_like_curl(&app, &key, &readme_request()).await;
        assert!(r.status().is_success(), "send {sent}: {}", r.status());
        let header = |name: &str| {
            r.headers()[name]
                .to_str()
                .expect("ascii")
                .parse::<u64>()
                .expect("a number")
        };
        assert_eq!(header("X-RateLimit-Limit"), 100);
        assert_eq!(header("X-RateLimit-Remaining"), u64::from(100 - sent));
        assert!(header("X-RateLimit-Reset") >= 1);
    }
    let r = post_like_curl(&app, &key, &readme_request()).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["X-RateLimit-Remaining"], "0");
    assert!(r.headers().contains_key("X-RateLimit-Reset"));
    assert_eq!(app.message_count().await, 100);
}

/// "Vérifier la santé du système": `curl …/api/health` with no credentials, read as the
/// original's monitoring scripts read it (`modem.signal_strength`, `queue.pending`, …).
#[tokio::test]
async fn the_readme_health_check_reads_the_readme_fields() {
    let app = health::two_sites_with_modems().await;
    let r = app
        .client
        .get(format!("{}/api/health", app.address))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert!(
        ["healthy", "degraded", "unhealthy"].contains(&body["status"].as_str().expect("status")),
        "{body}"
    );
    assert_eq!(body["modem"]["connected"], true, "{body}");
    let signal = body["modem"]["signal_strength"]
        .as_u64()
        .expect("a percentage");
    assert!(signal <= 100, "{body}");
    assert_eq!(body["modem"]["network"], "Orange F");
    assert_eq!(body["queue"]["pending"], 3);
    assert_eq!(body["queue"]["executing"], 1);
    assert_eq!(body["database"], "connected");
}
