//! The PostgreSQL server of a test process, and a fresh database per test.
//!
//! The API's tests and benchmark and the end-to-end stacks all need a server on any
//! machine, CI or a fresh one with only Rust and PostgreSQL installed. Which server is
//! decided once per process ([`server_url`]):
//! 1. `DATABASE_URL` if set (its database part is replaced per test);
//! 2. else a server listening on 127.0.0.1:5432, as `postgres://postgres@127.0.0.1:5432/postgres`;
//! 3. else a [`ThrowawayCluster`] made with `initdb`/`pg_ctl` (from PATH or the newest
//!    `/usr/lib/postgresql/*/bin`) in the temp dir, on a free port, stopped and removed by a
//!    watchdog once the test process is gone. As root it runs as `postgres` (or `nobody`):
//!    initdb refuses root.
//!
//! `SMSGW_TEST_PG=throwaway` forces the third way (to test it, or to keep tests off a
//! shared server). Test databases are named `<prefix><uuid v7>`; the first database a
//! process creates with a prefix drops those an earlier, killed, process left behind
//! (older than an hour).

use std::{
    collections::BTreeSet,
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Mutex, OnceLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use uuid::Uuid;

/// Test databases of earlier processes older than this are dropped.
const STALE_AFTER: Duration = Duration::from_secs(3600);

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

/// Decides how to find the server from `DATABASE_URL`, `SMSGW_TEST_PG` and whether 5432
/// answers.
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

/// The URL of a database on this process's server (tests replace the database part), or
/// why there is none (with what to install).
pub fn server_url() -> Result<&'static str, String> {
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    URL.get_or_init(|| {
        let found = discovery(
            std::env::var("DATABASE_URL").ok(),
            std::env::var("SMSGW_TEST_PG").ok(),
            local_server_listens(),
        );
        match found {
            Discovery::Url(url) => Ok(url),
            Discovery::Local => Ok("postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
            Discovery::Throwaway => {
                let cluster = ThrowawayCluster::start()?;
                let url = cluster.url();
                // Kept for the whole process; its watchdog stops it when the process exits.
                std::mem::forget(cluster);
                Ok(url)
            }
        }
    })
    .as_deref()
    .map_err(Clone::clone)
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority..].find('/') {
        Some(i) => &base[..authority + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// Creates `<prefix><uuid v7>` on this process's server; returns its name and URL.
pub async fn create_database(prefix: &str) -> Result<(String, String), String> {
    let server = server_url()?;
    let mut admin = PgConnection::connect(server)
        .await
        .map_err(|e| format!("cannot connect to the test server {server}: {e}"))?;
    drop_stale(&mut admin, prefix).await;
    let name = format!("{prefix}{}", Uuid::now_v7().simple());
    admin
        .execute(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
        .await
        .map_err(|e| format!("cannot create {name}: {e}"))?;
    let _ = admin.close().await;
    let url = with_database(server, &name);
    Ok((name, url))
}

/// Drops database `name` of this process's server, closing the connections still open.
pub async fn drop_database(name: &str) {
    let Ok(server) = server_url() else {
        return;
    };
    if let Ok(mut admin) = PgConnection::connect(server).await {
        let _ = admin
            .execute(AssertSqlSafe(format!(
                r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
            )))
            .await;
        let _ = admin.close().await;
    }
}

/// Drops the databases named `<prefix><uuid v7>` that earlier processes left (the UUID
/// tells their age); once per prefix and process.
async fn drop_stale(admin: &mut PgConnection, prefix: &str) {
    static DONE: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    if !DONE
        .lock()
        .is_ok_and(|mut done| done.insert(prefix.to_owned()))
    {
        return;
    }
    let pattern = format!("{}%", prefix.replace('_', "\\_"));
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
            .bind(pattern)
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    let now = SystemTime::now();
    for name in names {
        let created = name
            .strip_prefix(prefix)
            .and_then(|id| Uuid::parse_str(id).ok())
            .and_then(|id| id.get_timestamp())
            .map(|ts| {
                let (secs, nanos) = ts.to_unix();
                UNIX_EPOCH + Duration::new(secs, nanos)
            });
        if created
            .and_then(|at| now.duration_since(at).ok())
            .is_some_and(|age| age > STALE_AFTER)
        {
            let _ = admin
                .execute(AssertSqlSafe(format!(
                    r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                )))
                .await;
        }
    }
}

/// A PostgreSQL cluster of our own, for machines with no server running.
#[derive(Debug)]
pub struct ThrowawayCluster {
    data_dir: PathBuf,
    port: u16,
    pg_ctl: PathBuf,
    run_as: Option<&'static str>,
}

/// A PostgreSQL program on PATH, else the newest under /usr/lib/postgresql/*/bin.
fn program(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| {
                let entry = entry.ok()?;
                let version = entry.file_name().to_str()?.parse().ok()?;
                let candidate = entry.path().join("bin").join(name);
                candidate.is_file().then_some((version, candidate))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, path)| path)
    })
}

/// `program`, run as `user` when given.
fn command_as(user: Option<&str>, program: &Path) -> Command {
    match user {
        Some(user) => {
            let mut command = Command::new("runuser");
            command.args(["-u", user, "--"]).arg(program);
            command
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
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// The user the server runs as when we are root: `postgres` if it exists, else `nobody`.
fn server_user() -> Option<&'static str> {
    nix::unistd::geteuid().is_root().then(|| {
        let has_postgres = Command::new("id")
            .arg("postgres")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if has_postgres { "postgres" } else { "nobody" }
    })
}

impl ThrowawayCluster {
    /// Makes and starts a cluster in the temp dir (reachable by the server's user when we
    /// run as root) on a free port, with a watchdog that removes it after this process.
    pub fn start() -> Result<Self, String> {
        let missing = || {
            "no PostgreSQL server found: set DATABASE_URL, start one on 127.0.0.1:5432, or \
             install the PostgreSQL server binaries (initdb, pg_ctl; Debian: \
             `apt-get install postgresql`) so the tests can start a throwaway cluster"
                .to_owned()
        };
        let initdb = program("initdb").ok_or_else(missing)?;
        let pg_ctl = program("pg_ctl").ok_or_else(missing)?;
        let run_as = server_user();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let data_dir = std::env::temp_dir().join(format!("smsgw-pg-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
        if let Some(user) = run_as {
            let mut chown = Command::new("chown");
            chown.arg(format!("{user}:")).arg(&data_dir);
            run(chown, "chown of the cluster's directory")?;
        }
        let cluster = Self {
            data_dir,
            port,
            pg_ctl,
            run_as,
        };
        let mut init = command_as(run_as, &initdb);
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
             -c full_page_writes=off -c max_connections=300",
            cluster.data_dir.display()
        );
        let mut start = command_as(run_as, &cluster.pg_ctl);
        start
            .arg("-D")
            .arg(&cluster.data_dir)
            .arg("-l")
            .arg(cluster.data_dir.join("server.log"))
            .args(["-o", &options, "-w", "-t", "60", "start"]);
        run(start, "pg_ctl start")?;
        cluster.watch_parent()?;
        Ok(cluster)
    }

    /// Starts a watchdog that stops and removes the cluster once this process is gone,
    /// however it ends.
    fn watch_parent(&self) -> Result<(), String> {
        let runuser = self
            .run_as
            .map_or(String::new(), |u| format!("runuser -u {u} -- "));
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {runuser}'{pg_ctl}' -D '{dir}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            pg_ctl = self.pg_ctl.display(),
            dir = self.data_dir.display(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(drop)
            .map_err(|e| format!("cannot start the cluster's watchdog: {e}"))
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
        let mut stop = command_as(self.run_as, &self.pg_ctl);
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
