//! The admin API: login, sessions, keys and sites.

use serde_json::{Value, json};
use smsgw_api::config::ServeConfig;

use crate::helpers::{
    PEPPER, TestApp, assert_problem, create_database, spawn_app, spawn_app_with, status_json,
};

const PASSWORD: &str = "correct horse battery staple";

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("request")
}

async fn admin_app() -> (TestApp, String) {
    let app = spawn_app().await;
    app.create_admin("root", PASSWORD).await;
    let r = login(&app, "root", PASSWORD).await;
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .contains("HttpOnly")
    );
    let (status, body) = status_json(r).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    (app, body["token"].as_str().expect("token").to_owned())
}

fn admin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
) -> reqwest::RequestBuilder {
    app.client
        .request(method, format!("{}{path}", app.address))
        .bearer_auth(token)
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_are_refused_alike() {
    let app = spawn_app().await;
    app.create_admin("root", PASSWORD).await;
    assert_problem(
        login(&app, "root", "wrong password!!").await,
        401,
        "invalid_credentials",
        None,
    )
    .await;
    assert_problem(
        login(&app, "nobody", PASSWORD).await,
        401,
        "invalid_credentials",
        None,
    )
    .await;
    let r = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&json!({"username": "root"}))
        .send()
        .await
        .expect("request");
    assert_problem(r, 422, "missing_field", Some("password")).await;
}

#[tokio::test]
async fn admin_routes_need_a_valid_session() {
    let (app, token) = admin_app().await;
    let key = app.with_site_and_key().await;
    let url = format!("{}/api/v1/admin/keys", app.address);
    let r = app.client.get(&url).send().await.expect("request");
    assert_problem(r, 401, "missing_session", None).await;
    for bad in ["garbage", key.as_str()] {
        let r = app
            .client
            .get(&url)
            .bearer_auth(bad)
            .send()
            .await
            .expect("request");
        assert_problem(r, 401, "invalid_session", None).await;
    }
    // A session is not an API key.
    let r = app
        .get(&token, "/api/v1/messages")
        .send()
        .await
        .expect("request");
    assert_problem(r, 401, "invalid_api_key", None).await;
    // The cookie works like the bearer token.
    let r = app
        .client
        .get(&url)
        .header("cookie", format!("theme=dark; smsgw_session={token}"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn keys_are_created_listed_and_revoked() {
    let (app, token) = admin_app().await;
    app.create_site("paris").await;
    let r = admin(&app, reqwest::Method::POST, "/api/v1/admin/keys", &token)
        .json(&json!({"name": "shop", "site": "paris", "rate_limit": 5}))
        .send()
        .await
        .expect("request");
    let (status, created) = status_json(r).await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().expect("key").to_owned();
    let prefix = created["prefix"].as_str().expect("prefix").to_owned();
    assert!(key.starts_with(&prefix));
    assert_eq!(created["site"], "paris");

    let (status, body) = status_json(
        app.send(&key, &json!({"phone": "+33612345678", "content": "hi"}))
            .await,
    )
    .await;
    assert_eq!((status, body["site"].as_str()), (201, Some("paris")));

    let r = admin(&app, reqwest::Method::GET, "/api/v1/admin/keys", &token)
        .send()
        .await
        .expect("request");
    let (_, list) = status_json(r).await;
    let keys = list["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["prefix"], Value::from(prefix.clone()));
    assert!(!list.to_string().contains(&key), "a key is shown only once");

    let path = format!("/api/v1/admin/keys/{prefix}/revoke");
    let r = admin(&app, reqwest::Method::POST, &path, &token)
        .send()
        .await
        .expect("request");
    let (status, revoked) = status_json(r).await;
    assert_eq!(status, 200);
    assert!(revoked["revoked_at"].is_string());
    let r = app
        .send(&key, &json!({"phone": "+33612345678", "content": "hi"}))
        .await;
    assert_problem(r, 401, "revoked_api_key", None).await;
    let r = admin(
        &app,
        reqwest::Method::POST,
        "/api/v1/admin/keys/sk_live_nope/revoke",
        &token,
    )
    .send()
    .await
    .expect("request");
    assert_problem(r, 404, "not_found", None).await;

    for (body, code, field) in [
        (json!({"name": " "}), "invalid_name", "name"),
        (
            json!({"name": "x", "rate_limit": 0}),
            "invalid_rate_limit",
            "rate_limit",
        ),
        (
            json!({"name": "x", "site": "Nope!"}),
            "invalid_site",
            "site",
        ),
        (json!({"name": "x", "site": "lyon"}), "unknown_site", "site"),
    ] {
        let r = admin(&app, reqwest::Method::POST, "/api/v1/admin/keys", &token)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_problem(r, 422, code, Some(field)).await;
    }
}

#[tokio::test]
async fn sites_are_registered_with_agent_credentials() {
    let (app, token) = admin_app().await;
    let create = |id: &str| {
        admin(&app, reqwest::Method::POST, "/api/v1/admin/sites", &token)
            .json(&json!({"id": id}))
            .send()
    };
    let (status, site) = status_json(create("lyon").await.expect("request")).await;
    assert_eq!(status, 201, "{site}");
    assert_eq!(site["client_id"], "agent-lyon");
    assert!(site["token"].as_str().expect("token").split('.').count() == 3);
    assert_problem(
        create("lyon").await.expect("request"),
        409,
        "already_exists",
        None,
    )
    .await;
    assert_problem(
        create("Lyon").await.expect("request"),
        422,
        "invalid_site",
        Some("id"),
    )
    .await;
    let r = admin(&app, reqwest::Method::GET, "/api/v1/admin/sites", &token)
        .send()
        .await
        .expect("request");
    let (_, list) = status_json(r).await;
    assert_eq!(list["sites"][0]["id"], "lyon");
}

#[tokio::test]
async fn without_a_jwt_secret_the_admin_api_is_disabled() {
    let db_url = create_database().await;
    let app = spawn_app_with(ServeConfig::for_database(&db_url, PEPPER)).await;
    app.create_admin("root", PASSWORD).await;
    assert_problem(
        login(&app, "root", PASSWORD).await,
        503,
        "admin_disabled",
        None,
    )
    .await;
}

#[tokio::test]
async fn a_keys_name_rate_limit_sites_and_permissions_can_be_changed() {
    let (app, token) = admin_app().await;
    app.create_site("paris").await;
    app.create_site("lyon").await;
    let r = admin(&app, reqwest::Method::POST, "/api/v1/admin/keys", &token)
        .json(&json!({"name": "shop", "sites": ["paris"], "permissions": ["send", "read"]}))
        .send()
        .await
        .expect("request");
    let (status, created) = status_json(r).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["sites"], json!(["paris"]));
    assert_eq!(created["site"], "paris", "one site is the default");
    assert_eq!(created["permissions"], json!(["send", "read"]));
    let key = created["key"].as_str().expect("key").to_owned();
    let path = format!(
        "/api/v1/admin/keys/{}",
        created["prefix"].as_str().expect("prefix")
    );
    let patch = |body: Value| {
        admin(&app, reqwest::Method::PATCH, &path, &token)
            .json(&body)
            .send()
    };
    let to_lyon = json!({"phone": "+33612345678", "content": "hi", "site": "lyon"});
    assert_problem(
        app.send(&key, &to_lyon).await,
        403,
        "site_not_allowed",
        Some("site"),
    )
    .await;

    // Bad changes are refused by field and change nothing.
    for (body, code, field) in [
        (json!({"sites": []}), "invalid_sites", "sites"),
        (json!({"sites": ["lyon"]}), "invalid_site", "site"),
        (json!({"sites": ["paris", "nice"]}), "unknown_site", "sites"),
        (
            json!({"permissions": ["root"]}),
            "invalid_permissions",
            "permissions",
        ),
        (json!({"rate_limit": 0}), "invalid_rate_limit", "rate_limit"),
        (json!({"name": ""}), "invalid_name", "name"),
    ] {
        assert_problem(patch(body).await.expect("request"), 422, code, Some(field)).await;
    }
    let r = admin(
        &app,
        reqwest::Method::PATCH,
        "/api/v1/admin/keys/sk_live_nope",
        &token,
    )
    .json(&json!({"name": "x"}))
    .send()
    .await
    .expect("request");
    assert_problem(r, 404, "not_found", None).await;

    let (status, changed) = status_json(
        patch(json!({"name": "shop2", "rate_limit": 3, "sites": null, "site": "lyon"}))
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (
            changed["name"].as_str(),
            changed["rate_limit"].as_i64(),
            changed["site"].as_str()
        ),
        (Some("shop2"), Some(3), Some("lyon"))
    );
    assert!(changed["sites"].is_null(), "{changed}");
    assert_eq!(
        changed["permissions"],
        json!(["send", "read"]),
        "left as it was"
    );
    // It takes effect with the next request.
    let r = app.send(&key, &to_lyon).await;
    assert_eq!(r.headers()["x-ratelimit-limit"], "3");
    assert_eq!(r.status(), 201);

    let (_, changed) = status_json(
        patch(json!({"permissions": ["read"]}))
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(changed["permissions"], json!(["read"]));
    assert_problem(
        app.send(&key, &to_lyon).await,
        403,
        "permission_denied",
        None,
    )
    .await;
}
