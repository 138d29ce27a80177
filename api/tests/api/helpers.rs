//! Test support: every test gets its own database on a PostgreSQL server and its own app on
//! port 0. The server is found by `smsgw-testpg` (`DATABASE_URL`, else 127.0.0.1:5432, else
//! a throwaway cluster; see that crate). Set `TEST_LOG=1` to see the app's logs.

use std::sync::OnceLock;

use reqwest::{Client, RequestBuilder, Response};
use serde_json::Value;
use smsgw_api::{
    commands::hash_password,
    config::{Secret, ServeConfig},
    domain::{api_key::KeyPepper, key_scope::KeyScope},
    startup::Application,
    store,
};
use smsgw_shared::ids::SiteId;
use sqlx::PgPool;

/// The pepper every test app uses.
pub const PEPPER: &str = "test-pepper-5f1c9a2e7b3d8046e1a9c7f2b4d6e803";
/// The JWT secret every test app uses.
pub const JWT_SECRET: &str = "test-jwt-secret-8d2f6b1e9a4c7035f2e8b1d4";

fn init_test_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            smsgw_api::telemetry::init(smsgw_api::telemetry::LogFormat::Text);
        }
    });
}

/// A running app on its own database.
#[derive(Clone)]
pub struct TestApp {
    /// `http://127.0.0.1:port`.
    pub address: String,
    /// Pool on the test database.
    pub db: PgPool,
    /// URL of the test database (to start a second app on it).
    pub db_url: String,
    /// HTTP client.
    pub client: Client,
}

/// Creates a fresh database, migrates it and starts an app on it.
pub async fn spawn_app() -> TestApp {
    let db_url = create_database().await;
    spawn_app_on(&db_url).await
}

/// Creates `smsgw_test_<uuid v7>` on the test server; returns its URL.
pub async fn create_database() -> String {
    smsgw_testpg::create_database("smsgw_test_")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .1
}

/// Starts another app on an existing database (migrating it if needed).
pub async fn spawn_app_on(db_url: &str) -> TestApp {
    let mut config = ServeConfig::for_database(db_url, PEPPER);
    config.jwt_secret = Some(Secret::new(JWT_SECRET));
    // Tests age rows by hand: no purge of their own behind their back.
    config.retention_days = 0;
    spawn_app_with(config).await
}

/// Starts an app with these settings.
pub async fn spawn_app_with(config: ServeConfig) -> TestApp {
    spawn_app_until(config, std::future::pending()).await.0
}

/// Starts an app that stops gracefully when `shutdown` completes; aborting the returned
/// task kills it at once, as a crash would.
pub async fn spawn_app_until(
    config: ServeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (TestApp, tokio::task::JoinHandle<std::io::Result<()>>) {
    init_test_logs();
    let db_url = config.database.database_url.expose().to_owned();
    let app = Application::build(config).await.expect("build the app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.db().clone();
    let task = tokio::spawn(app.run_until(shutdown));
    let app = TestApp {
        address,
        db,
        db_url,
        client: Client::new(),
    };
    (app, task)
}

impl TestApp {
    /// Registers a site.
    pub async fn create_site(&self, id: &str) {
        let id: SiteId = id.parse().expect("site id");
        store::sites::create(&self.db, &id)
            .await
            .expect("create site");
    }

    /// Sets a site's presence.
    pub async fn set_presence(&self, id: &str, presence: &str) {
        sqlx::query("UPDATE sites SET presence = $2 WHERE id = $1")
            .bind(id)
            .bind(presence)
            .execute(&self.db)
            .await
            .expect("set presence");
    }

    /// Creates an API key that may use every site and do everything, whose messages go to
    /// `site` when they name none; returns the key.
    pub async fn create_key(&self, rate_limit: u32, site: Option<&str>) -> String {
        let site: Option<SiteId> = site.map(|s| s.parse().expect("site id"));
        self.create_scoped_key(
            rate_limit,
            KeyScope::unrestricted(site.map(|s| s.to_string())),
        )
        .await
    }

    /// Creates an API key with this scope; returns the key.
    pub async fn create_scoped_key(&self, rate_limit: u32, scope: KeyScope) -> String {
        let pepper = KeyPepper::new(PEPPER).expect("pepper");
        let (secret, _) = store::keys::create(&self.db, &pepper, "test", rate_limit, &scope)
            .await
            .expect("create key");
        secret.expose().to_owned()
    }

    /// Creates an administrator.
    pub async fn create_admin(&self, username: &str, password: &str) {
        let hash = hash_password(password.to_owned()).await.expect("hash");
        store::admins::create(&self.db, username, &hash)
            .await
            .expect("create admin");
    }

    /// Creates the administrator `root` and logs in; returns the session token.
    pub async fn admin_token(&self) -> String {
        let password = "correct horse battery staple";
        self.create_admin("root", password).await;
        let r = self
            .client
            .post(format!("{}/api/v1/auth/login", self.address))
            .json(&serde_json::json!({"username": "root", "password": password}))
            .send()
            .await
            .expect("login");
        let (status, body) = status_json(r).await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// The text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// A site `main` and a key with a large budget: what most tests need.
    pub async fn with_site_and_key(&self) -> String {
        self.create_site("main").await;
        self.create_key(1000, None).await
    }

    /// A request to `path` with the key in `X-API-Key`.
    pub fn get(&self, key: &str, path: &str) -> RequestBuilder {
        self.client
            .get(format!("{}{path}", self.address))
            .header("x-api-key", key)
    }

    /// `POST /api/v1/messages/{id}/cancel`.
    pub async fn cancel(&self, key: &str, id: impl std::fmt::Display) -> Response {
        self.client
            .post(format!("{}/api/v1/messages/{id}/cancel", self.address))
            .header("x-api-key", key)
            .send()
            .await
            .expect("cancel request")
    }

    /// `POST /api/v1/messages` with a JSON body.
    pub async fn send(&self, key: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}/api/v1/messages", self.address))
            .header("x-api-key", key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Messages stored in the database.
    pub async fn message_count(&self) -> i64 {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM messages")
            .fetch_one(&self.db)
            .await
            .expect("count")
    }
}

/// Status and JSON body of a response; also checks that problems are problem+json.
pub async fn status_json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body: Value = response.json().await.expect("JSON body");
    if status >= 400 {
        assert_eq!(content_type, "application/problem+json", "{body}");
        assert_eq!(body["status"], status, "{body}");
        assert!(
            body["title"].is_string() && body["detail"].is_string(),
            "{body}"
        );
    }
    (status, body)
}

/// Asserts a problem answer: status, code and (when given) field.
pub async fn assert_problem(
    response: Response,
    status: u16,
    code: &str,
    field: Option<&str>,
) -> Value {
    let (got, body) = status_json(response).await;
    assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
    if let Some(field) = field {
        assert_eq!(body["field"], field, "{body}");
    }
    body
}

/// Windows are calendar minutes of the database's clock: a test that counts within one
/// window starts early in a minute, so that no new window opens halfway through.
pub async fn clear_of_the_minute_turn() {
    let second = time::OffsetDateTime::now_utc().second();
    if second >= 45 {
        tokio::time::sleep(std::time::Duration::from_secs(u64::from(61 - second))).await;
    }
}
