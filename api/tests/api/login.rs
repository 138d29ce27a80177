//! Admin login under attack: lock-outs per user name and per client address (exact across
//! replicas), the bound on concurrent password checks, sessions that a logout really
//! ends, CSRF tokens for cookie sessions, and JSON-only bodies.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use smsgw_api::config::{Secret, ServeConfig};

use crate::helpers::{
    JWT_SECRET, PEPPER, TestApp, assert_problem, create_database, spawn_app, spawn_app_with,
    status_json,
};

const PASSWORD: &str = "correct horse battery staple";

/// An app that trusts one proxy in front, so that tests choose the client address with
/// `X-Forwarded-For`, and allows `checks` password checks at once.
async fn app_behind_a_proxy(db_url: &str, checks: u32) -> TestApp {
    let mut config = ServeConfig::for_database(db_url, PEPPER);
    config.jwt_secret = Some(Secret::new(JWT_SECRET));
    config.trusted_proxy_hops = 1;
    config.login_concurrency = checks;
    spawn_app_with(config).await
}

async fn login_from(app: &TestApp, address: &str, username: &str, password: &str) -> Response {
    app.client
        .post(format!("{}/api/v1/auth/login", app.address))
        // The client's own entry first, then the one the proxy appended.
        .header("x-forwarded-for", format!("198.51.100.250, {address}"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("request")
}

/// `times` wrong passwords for `username` from `address`, each refused as such.
async fn guess_wrong(app: &TestApp, address: &str, username: &str, times: usize) {
    for _ in 0..times {
        let r = login_from(app, address, username, "guess").await;
        assert_problem(r, 401, "invalid_credentials", None).await;
    }
}

async fn status_of(response: Response) -> (u16, Option<String>, Value) {
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let (status, body) = status_json(response).await;
    (status, retry_after, body)
}

async fn failures(app: &TestApp, kind: &str, subject: &str) -> i32 {
    sqlx::query_scalar("SELECT failures FROM login_attempts WHERE kind = $1 AND subject = $2")
        .bind(kind)
        .bind(subject)
        .fetch_optional(&app.db)
        .await
        .expect("counter")
        .unwrap_or(0)
}

#[tokio::test]
async fn failed_logins_lock_the_user_name_out_and_the_right_password_does_not_get_in() {
    let app = app_behind_a_proxy(&create_database().await, 4).await;
    app.create_admin("root", PASSWORD).await;
    guess_wrong(&app, "203.0.113.1", "root", 5).await;
    // From another address too, and with the right password: nothing is checked.
    for (address, password) in [("203.0.113.2", "guess"), ("203.0.113.3", PASSWORD)] {
        let (status, retry_after, body) =
            status_of(login_from(&app, address, "root", password).await).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (429, Some("too_many_attempts")),
            "{body}"
        );
        let secs: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
        assert!((1..=30).contains(&secs), "{secs}");
    }
    assert_eq!(
        failures(&app, "user", "root").await,
        5,
        "refused attempts are not counted"
    );
    // The lock ends: one more failure locks for twice as long.
    sqlx::query("UPDATE login_attempts SET locked_until = now() WHERE subject = 'root'")
        .execute(&app.db)
        .await
        .expect("unlock");
    guess_wrong(&app, "203.0.113.1", "root", 1).await;
    let (status, retry_after, _) =
        status_of(login_from(&app, "203.0.113.1", "root", PASSWORD).await).await;
    assert_eq!(status, 429);
    let secs: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
    assert!((31..=60).contains(&secs), "{secs}");
}

#[tokio::test]
async fn one_address_spraying_user_names_is_locked_out() {
    let app = app_behind_a_proxy(&create_database().await, 4).await;
    app.create_admin("root", PASSWORD).await;
    for i in 0..20 {
        let r = login_from(&app, "203.0.113.9", &format!("user{i}"), "guess").await;
        assert_problem(r, 401, "invalid_credentials", None).await;
    }
    let r = login_from(&app, "203.0.113.9", "root", PASSWORD).await;
    assert_problem(r, 429, "too_many_attempts", None).await;
    // Another address is not locked out, and a success forgets its own failures.
    guess_wrong(&app, "203.0.113.10", "root", 4).await;
    assert_eq!(
        status_of(login_from(&app, "203.0.113.10", "root", PASSWORD).await)
            .await
            .0,
        200
    );
    assert_eq!(failures(&app, "user", "root").await, 0);
    assert_eq!(failures(&app, "address", "203.0.113.10").await, 0);
    guess_wrong(&app, "203.0.113.10", "root", 4).await;
}

#[tokio::test]
async fn concurrent_guesses_on_two_replicas_are_counted_exactly() {
    let db_url = create_database().await;
    let first = app_behind_a_proxy(&db_url, 16).await;
    let second = app_behind_a_proxy(&db_url, 16).await;
    first.create_admin("root", PASSWORD).await;
    let attempts = (0..12).map(|i| {
        let app = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        async move {
            let address = format!("203.0.113.{}", 20 + i);
            status_of(login_from(&app, &address, "root", "guess").await)
                .await
                .0
        }
    });
    let mut statuses = all_at_once(attempts).await;
    statuses.sort_unstable();
    // Five attempts are checked before the lock-out; every other one is refused unchecked.
    assert_eq!(
        statuses,
        [401, 401, 401, 401, 401, 429, 429, 429, 429, 429, 429, 429]
    );
    assert_eq!(failures(&first, "user", "root").await, 5);
}

/// Runs the futures at once; their results in order.
async fn all_at_once<F>(futures: impl IntoIterator<Item = F>) -> Vec<u16>
where
    F: std::future::Future<Output = u16> + Send + 'static,
{
    let tasks: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("an attempt"));
    }
    statuses
}

#[tokio::test]
async fn password_checks_beyond_the_bound_are_refused_with_503_and_not_counted() {
    let app = app_behind_a_proxy(&create_database().await, 1).await;
    app.create_admin("root", PASSWORD).await;
    let attempts = (0..24).map(|i| {
        let app = app.clone();
        async move {
            let r = login_from(
                &app,
                &format!("203.0.113.{}", 50 + i),
                &format!("u{i}"),
                "guess",
            )
            .await;
            let (status, retry_after, body) = status_of(r).await;
            if status == 503 {
                assert_eq!(body["code"], "login_busy", "{body}");
                assert_eq!(retry_after.as_deref(), Some("1"));
            } else {
                assert_eq!(status, 401, "{body}");
            }
            status
        }
    });
    let statuses = all_at_once(attempts).await;
    let busy = statuses.iter().filter(|s| **s == 503).count();
    assert!(
        busy > 0,
        "24 logins at once through one password check: {statuses:?}"
    );
    let counted: i64 =
        sqlx::query_scalar("SELECT count(*) FROM login_attempts WHERE kind = 'user'")
            .fetch_one(&app.db)
            .await
            .expect("count");
    assert_eq!(
        counted as usize,
        statuses.len() - busy,
        "a busy answer counts nothing"
    );
}

async fn login(app: &TestApp) -> (String, String, String) {
    let r = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&json!({"username": "root", "password": PASSWORD}))
        .send()
        .await
        .expect("request");
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let cookie = cookie.split(';').next().expect("pair").to_owned();
    let (status, body) = status_json(r).await;
    assert_eq!(status, 200, "{body}");
    (
        body["token"].as_str().expect("token").to_owned(),
        body["csrf_token"].as_str().expect("csrf").to_owned(),
        cookie,
    )
}

/// `GET /api/v1/admin/keys` with a bearer session token.
async fn get_keys(app: &TestApp, token: &str) -> Response {
    admin_call(app, Method::GET, "/api/v1/admin/keys")
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

fn admin_call(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.client.request(method, format!("{}{path}", app.address))
}

#[tokio::test]
async fn a_logout_ends_the_session_on_every_replica() {
    let first = spawn_app().await;
    let second = crate::helpers::spawn_app_on(&first.db_url).await;
    first.create_admin("root", PASSWORD).await;
    let (token, _, _) = login(&first).await;
    let (other, _, _) = login(&first).await;
    for app in [&first, &second] {
        let r = get_keys(app, &token).await;
        assert_eq!(r.status(), 200);
    }
    let r = admin_call(&second, Method::POST, "/api/v1/auth/logout")
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 204);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .contains("Max-Age=0")
    );
    for app in [&first, &second] {
        let r = get_keys(app, &token).await;
        assert_problem(r, 401, "invalid_session", None).await;
    }
    // Another session of the same administrator goes on.
    let r = get_keys(&first, &other).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn cookie_sessions_need_their_csrf_token_to_change_anything() {
    let app = spawn_app().await;
    app.create_admin("root", PASSWORD).await;
    let (token, csrf, cookie) = login(&app).await;
    let (_, other_csrf, _) = login(&app).await;
    let create = |csrf: Option<&str>| {
        let mut request = admin_call(&app, Method::POST, "/api/v1/admin/keys")
            .header("cookie", &cookie)
            .json(&json!({"name": "shop"}));
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    for csrf in [None, Some("nonsense"), Some(other_csrf.as_str())] {
        assert_problem(
            create(csrf).await.expect("request"),
            403,
            "csrf_required",
            None,
        )
        .await;
    }
    assert_eq!(app.message_count().await, 0);
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(keys, 0, "nothing was created");
    assert_eq!(create(Some(&csrf)).await.expect("request").status(), 201);
    // Safe methods with the cookie, and the bearer token for anything, need no CSRF token.
    let r = admin_call(&app, Method::GET, "/api/v1/admin/keys")
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let r = admin_call(&app, Method::POST, "/api/v1/admin/keys")
        .bearer_auth(&token)
        .json(&json!({"name": "crm"}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 201);
    // Logging out with the cookie is a change, too.
    let r = admin_call(&app, Method::POST, "/api/v1/auth/logout")
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert_problem(r, 403, "csrf_required", None).await;
}

#[tokio::test]
async fn session_bodies_must_be_sent_as_json() {
    let app = spawn_app().await;
    app.create_admin("root", PASSWORD).await;
    let (token, _, _) = login(&app).await;
    let body = r#"{"username": "root", "password": "correct horse battery staple"}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = admin_call(&app, Method::POST, "/api/v1/auth/login").body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let r = request.send().await.expect("request");
        assert_problem(r, 415, "unsupported_media_type", None).await;
        let r = admin_call(&app, Method::POST, "/api/v1/admin/keys")
            .bearer_auth(&token)
            .header("content-type", content_type.unwrap_or("text/plain"))
            .body(r#"{"name": "shop"}"#)
            .send()
            .await
            .expect("request");
        assert_problem(r, 415, "unsupported_media_type", None).await;
    }
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM admin_sessions")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(sessions, 1, "only the JSON login opened a session");
}
