//! Liveness, readiness, the seed's health answer and the metrics endpoint.

use serde_json::{Value, json};
use smsgw_api::{config::ServeConfig, domain::key_scope::KeyScope};

use crate::helpers::{PEPPER, TestApp, spawn_app, spawn_app_with, status_json};

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

/// Two sites: paris online with a connected modem (4 bars, Orange F) and a broken one,
/// lyon offline with a strong modem; paris has messages waiting and one being sent.
pub(crate) async fn two_sites_with_modems() -> TestApp {
    let app = spawn_app().await;
    app.create_site("paris").await;
    app.create_site("lyon").await;
    app.set_presence("paris", "online").await;
    let golden: Value = serde_json::from_str(include_str!(
        "../../../shared/tests/golden/state_modems.json"
    ))
    .expect("golden");
    let modems = golden["modems"].as_array().expect("modems");
    let mut strong = modems[0].clone();
    strong["signal"] = json!({"bars": 5});
    strong["operator"] = json!("SFR");
    for (site, id, state) in [
        ("paris", "usb0", &modems[0]),
        ("paris", "usb1", &modems[1]),
        ("lyon", "usb0", &strong),
    ] {
        sqlx::query("INSERT INTO modems (site_id, id, state) VALUES ($1, $2, $3)")
            .bind(site)
            .bind(id)
            .bind(state)
            .execute(&app.db)
            .await
            .expect("modem");
    }
    let key = app.create_key(100, Some("paris")).await;
    for _ in 0..4 {
        app.send(&key, &json!({"phone": "+33612345678", "content": "hi"}))
            .await;
    }
    sqlx::query(
        "UPDATE messages SET status = 'sending'
         WHERE id = (SELECT id FROM messages ORDER BY id LIMIT 1)",
    )
    .execute(&app.db)
    .await
    .expect("sending");
    app
}

async fn health(app: &TestApp, with: Option<(&str, &str)>) -> (u16, Value) {
    let mut request = app.client.get(format!("{}/api/health", app.address));
    if let Some((name, value)) = with {
        request = request.header(name, value);
    }
    let r = request.send().await.expect("request");
    let status = r.status().as_u16();
    if status == 401 {
        return status_json(r).await;
    }
    // 503 is the health document too (unhealthy), not a problem.
    (status, r.json().await.expect("JSON"))
}

#[tokio::test]
async fn api_health_has_the_original_shape_and_no_details_without_credentials() {
    let app = two_sites_with_modems().await;
    let (status, body) = health(&app, None).await;
    assert_eq!(status, 200, "{body}");
    // The original gateway's fields, exactly; `broker` beside them.
    let mut fields: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["broker", "database", "modem", "queue", "status"],
        "{body}"
    );
    assert_eq!(
        body["modem"],
        json!({"connected": true, "signal_strength": 80, "network": "Orange F"}),
        "the best connected modem; lyon's is stronger but its agent is offline"
    );
    assert_eq!(body["queue"], json!({"pending": 3, "executing": 1}));
    assert_eq!(body["database"], "connected");
    // Messages are accepted and a modem is connected, but nothing reaches it without a
    // broker link.
    assert_eq!(
        (body["status"].as_str(), body["broker"].as_str()),
        (Some("degraded"), Some("not_configured"))
    );
    let text = body.to_string();
    for secret in [
        "paris",
        "lyon",
        "usb0",
        "867123045678901",
        "E3372",
        env!("CARGO_PKG_VERSION"),
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }

    // Without any connected modem: not connected, no signal, no network.
    app.set_presence("paris", "offline").await;
    let (_, body) = health(&app, None).await;
    assert_eq!(
        body["modem"],
        json!({"connected": false, "signal_strength": 0, "network": null})
    );
}

#[tokio::test]
async fn api_health_details_need_a_key_with_sites_or_an_admin_session() {
    let app = two_sites_with_modems().await;
    let of = |sites: &[&str], permissions: &[&str]| {
        let sites: Vec<String> = sites.iter().map(|s| (*s).to_owned()).collect();
        let permissions: Vec<String> = permissions.iter().map(|s| (*s).to_owned()).collect();
        KeyScope::parse(Some(&sites), None, Some(&permissions)).expect("scope")
    };
    let site_ids = |body: &Value| -> Vec<String> {
        body["sites"]
            .as_array()
            .map(|s| {
                s.iter()
                    .map(|s| s["id"].as_str().expect("id").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };

    let paris = app.create_scoped_key(100, of(&["paris"], &["sites"])).await;
    let (status, body) = health(&app, Some(("x-api-key", &paris))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(site_ids(&body), ["paris"]);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        body["sites"][0]["modems"][0]["state"]["imei"],
        "867123045678901"
    );
    assert_eq!(body["queue"], json!({"pending": 3, "executing": 1}));

    // A key of lyon: lyon's agent is offline, so its modem is not connected; and
    // nothing of paris shows.
    let lyon = app.create_scoped_key(100, of(&["lyon"], &["sites"])).await;
    let (_, body) = health(&app, Some(("authorization", &format!("Bearer {lyon}")))).await;
    assert_eq!(site_ids(&body), ["lyon"]);
    assert_eq!(body["modem"]["connected"], false);
    assert_eq!(body["queue"], json!({"pending": 0, "executing": 0}));

    // Without the `sites` permission: the summary of its sites, no details.
    let sender = app.create_scoped_key(100, of(&["paris"], &["send"])).await;
    let (_, body) = health(&app, Some(("x-api-key", &sender))).await;
    assert!(
        body.get("sites").is_none() && body.get("version").is_none(),
        "{body}"
    );
    assert_eq!(body["modem"]["network"], "Orange F");

    let token = app.admin_token().await;
    let (_, body) = health(&app, Some(("authorization", &format!("Bearer {token}")))).await;
    assert_eq!(site_ids(&body), ["lyon", "paris"]);

    // An empty key (a monitoring template whose key macro is empty) is no key.
    let (status, body) = health(&app, Some(("x-api-key", ""))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("sites").is_none(), "{body}");

    // Credentials that are presented must be valid.
    let unknown = format!("sk_live_{}", "A".repeat(32));
    let (status, body) = health(&app, Some(("x-api-key", &unknown))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_api_key"))
    );
    let (status, body) = health(&app, Some(("authorization", "Bearer not-a-session"))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_session"))
    );
}

#[tokio::test]
async fn without_its_database_the_api_is_unhealthy_and_not_ready() {
    let mut config = ServeConfig::for_database("postgres://postgres@127.0.0.1:1/nowhere", PEPPER);
    config.no_migrate = true;
    let app = spawn_app_with(config).await;
    let (status, body) = health(&app, None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["database"].as_str()),
        (Some("unhealthy"), Some("disconnected"))
    );
    assert_eq!(body["queue"], json!({"pending": null, "executing": null}));
    assert_eq!(body["modem"]["connected"], false);
    let r = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("request");
    let (status, body) = status_json(r).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("not_ready")));
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

    let text = app.metrics_text().await;
    assert!(text.contains("smsgw_http_requests_total"), "{text}");
    assert!(text.contains(r#"route="/api/v1/messages/{id}""#), "{text}");
    assert!(text.contains("smsgw_messages_accepted_total"), "{text}");
    assert!(text.contains("smsgw_accept_batches_total"), "{text}");
    assert!(
        text.contains("smsgw_accept_batched_requests_total"),
        "{text}"
    );
    assert!(!text.contains(&id), "no ids in labels");
    // Invented methods count as `other`: they cannot add series without bound.
    for invented in ["FROB", "XYZZY"] {
        let method = reqwest::Method::from_bytes(invented.as_bytes()).expect("method");
        app.client
            .request(method, format!("{}/api/v1/messages", app.address))
            .send()
            .await
            .expect("request");
    }
    let text = app.metrics_text().await;
    assert!(!text.contains("FROB") && !text.contains("XYZZY"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("smsgw_http_requests_total{")
                && l.contains("method=\"other\"")
                && l.contains("route=\"/api/v1/messages\"")
                && l.ends_with(" 2")),
        "{text}"
    );
    assert!(!text.contains("33612345678"), "no phone numbers in labels");
}
