//! Test support: every test gets its own database on a PostgreSQL server and its own app on
//! port 0.
//!
//! Which server (decided once per test process):
//! 1. `DATABASE_URL` if set (its database part is replaced per test);
//! 2. else a server listening on 127.0.0.1:5432, as `postgres://postgres@127.0.0.1:5432/postgres`;
//! 3. else a throwaway cluster made with `initdb`/`pg_ctl` (from PATH or
//!    `/usr/lib/postgresql/*/bin`) under the target dir, on a free port, with its unix
//!    socket in its data dir, stopped and removed when the test process exits.
//!
//! `SMSGW_TEST_PG=throwaway` forces the third way (to test it, or to keep tests off a
//! shared server). Set `TEST_LOG=1` to see the app's logs.

use std::{
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use reqwest::{Client, RequestBuilder, Response};
use serde_json::Value;
use smsgw_api::{
    commands::hash_password,
    config::{Secret, ServeConfig},
    domain::api_key::KeyPepper,
    startup::Application,
    store,
};
use smsgw_shared::ids::SiteId;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, PgPool};
use uuid::Uuid;

/// The pepper every test app uses.
pub const PEPPER: &str = "test-pepper-0123456789abcdef";
/// The JWT secret every test app uses.
pub const JWT_SECRET: &str = "test-jwt-secret";

/// How a test process finds its PostgreSQL server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// The URL in `DATABASE_URL`.
    Url(String),
    /// The server on 127.0.0.1:5432.
    Local,
    /// A cluster of our own.
    Throwaway,
}

/// Decides how to find the server from the environment and whether 5432 answers.
pub fn discovery(
    database_url: Option<String>,
    mode: Option<String>,
    local_listens: bool,
) -> Discovery {
    if mode.as_deref() == Some("throwaway") {
        return Discovery::Throwaway;
    }
    match database_url {
        Some(url) if !url.is_empty() => Discovery::Url(url),
        _ if local_listens => Discovery::Local,
        _ => Discovery::Throwaway,
    }
}

fn local_server_listens() -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], 5432));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

/// The server URL of this test process (a database on it; tests replace the database).
pub fn server_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let found = discovery(
            std::env::var("DATABASE_URL").ok(),
            std::env::var("SMSGW_TEST_PG").ok(),
            local_server_listens(),
        );
        match found {
            Discovery::Url(url) => url,
            Discovery::Local => "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
            Discovery::Throwaway => {
                let cluster = ThrowawayCluster::start().unwrap_or_else(|e| panic!("{e}"));
                let url = cluster.url();
                // Kept for the whole process; its watchdog stops it when the process exits.
                std::mem::forget(cluster);
                url
            }
        }
    })
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// A PostgreSQL cluster of our own, for machines with no server running.
#[derive(Debug)]
pub struct ThrowawayCluster {
    data_dir: PathBuf,
    port: u16,
    pg_ctl: PathBuf,
    run_as: Option<String>,
}

/// Finds a PostgreSQL server program on PATH or under /usr/lib/postgresql/*/bin (newest).
fn find_program(name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let candidate = e.path().join("bin").join(name);
            candidate.is_file().then_some((version, candidate))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p)
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args…`, as `user` when given (initdb and postgres refuse to run as root).
fn command_as(user: Option<&str>, program: &Path) -> Command {
    match user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn run(mut command: Command, what: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

impl ThrowawayCluster {
    /// Makes and starts a cluster under the target dir (the temp dir as root) on a free port.
    pub fn start() -> Result<Self, String> {
        let missing = || {
            "no PostgreSQL server found: set DATABASE_URL, start one on 127.0.0.1:5432, or \
             install the PostgreSQL server binaries (initdb, pg_ctl; Debian: \
             `apt-get install postgresql`) so the tests can start a throwaway cluster"
                .to_owned()
        };
        let initdb = find_program("initdb").ok_or_else(missing)?;
        let pg_ctl = find_program("pg_ctl").ok_or_else(missing)?;
        let run_as = running_as_root().then(|| "postgres".to_owned());

        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        // As root the server runs as `postgres`, which cannot enter a target dir under
        // root's home (CI keeps it in ~/.cache): the system temp dir is reachable by all.
        let parent = if run_as.is_some() {
            std::env::temp_dir()
        } else {
            Path::new(env!("CARGO_TARGET_TMPDIR")).to_path_buf()
        };
        let data_dir = parent.join(format!("smsgw-pg-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        if let Some(user) = &run_as {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg(format!("{user}:")).arg(&data_dir);
                    c
                },
                "chown of the data dir (running as root needs a `postgres` user)",
            )?;
        }
        let cluster = Self {
            data_dir,
            port,
            pg_ctl,
            run_as,
        };
        let mut init = command_as(cluster.run_as.as_deref(), &initdb);
        init.arg("-D").arg(&cluster.data_dir).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ]);
        run(init, "initdb")?;

        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200",
            cluster.data_dir.display()
        );
        let mut start = command_as(cluster.run_as.as_deref(), &cluster.pg_ctl);
        start
            .arg("-D")
            .arg(&cluster.data_dir)
            .arg("-l")
            .arg(cluster.data_dir.join("server.log"))
            .args(["-o", &options, "-w", "-t", "60", "start"]);
        run(start, "pg_ctl start")?;
        cluster.watch_parent();
        Ok(cluster)
    }

    /// Starts a watchdog that stops and removes the cluster once this process is gone.
    fn watch_parent(&self) {
        let runuser = match &self.run_as {
            Some(user) => format!("runuser -u {user} -- "),
            None => String::new(),
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {runuser}'{pg_ctl}' -D '{dir}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            pg_ctl = self.pg_ctl.display(),
            dir = self.data_dir.display(),
        );
        let spawned = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Err(e) = spawned {
            eprintln!("cannot start the throwaway cluster's watchdog: {e}");
        }
    }

    /// URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops it now and removes its files.
    pub fn stop(&self) {
        let mut stop = command_as(self.run_as.as_deref(), &self.pg_ctl);
        stop.arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = stop.status();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Drop for ThrowawayCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

fn init_test_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            smsgw_api::telemetry::init(smsgw_api::telemetry::LogFormat::Text);
        }
    });
}

/// A running app on its own database.
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

/// Test databases older than this are dropped by the next test process.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// Drops test databases of earlier runs (their names hold a UUID v7, so their age is
/// known); databases still in use refuse to be dropped and are left alone.
async fn drop_stale_databases(admin: &mut PgConnection) {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'smsgw\\_test\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default();
    let now = SystemTime::now();
    for name in names {
        let created = name
            .strip_prefix("smsgw_test_")
            .and_then(|id| Uuid::parse_str(id).ok())
            .and_then(|id| id.get_timestamp())
            .map(|ts| {
                let (secs, nanos) = ts.to_unix();
                UNIX_EPOCH + Duration::new(secs, nanos)
            });
        let stale = created
            .and_then(|at| now.duration_since(at).ok())
            .is_some_and(|age| age > STALE_AFTER);
        if stale {
            let _ = admin
                .execute(AssertSqlSafe(format!(
                    r#"DROP DATABASE IF EXISTS "{name}""#
                )))
                .await;
        }
    }
}

/// Creates `smsgw_test_<uuid v7>` on the test server; returns its URL.
pub async fn create_database() -> String {
    let server = server_url();
    let name = format!("smsgw_test_{}", Uuid::now_v7().simple());
    let mut admin = PgConnection::connect(server)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server {server}: {e}"));
    drop_stale_databases(&mut admin).await;
    admin
        .execute(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
        .await
        .expect("create the test database");
    with_database(server, &name)
}

/// Starts another app on an existing database (migrating it if needed).
pub async fn spawn_app_on(db_url: &str) -> TestApp {
    let mut config = ServeConfig::for_database(db_url, PEPPER);
    config.jwt_secret = Some(Secret::new(JWT_SECRET));
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

    /// Creates an API key; returns the key.
    pub async fn create_key(&self, rate_limit: u32, site: Option<&str>) -> String {
        let pepper = KeyPepper::new(PEPPER).expect("pepper");
        let site: Option<SiteId> = site.map(|s| s.parse().expect("site id"));
        let (secret, _) = store::keys::create(&self.db, &pepper, "test", rate_limit, site.as_ref())
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
