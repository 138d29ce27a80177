//! A fresh PostgreSQL database for every stack, on whichever server this machine has.
//!
//! The server is found once per test process, the same way the API's tests find theirs:
//! 1. `DATABASE_URL` if set (its database part is replaced per stack);
//! 2. else the server on 127.0.0.1:5432 as `postgres` (what CI runs);
//! 3. else a throwaway cluster made with `initdb`/`pg_ctl` (from PATH or
//!    `/usr/lib/postgresql/*/bin`) in the temp dir, on a free port, stopped and removed by
//!    a watchdog once the test process is gone. As root the cluster runs as `postgres`
//!    (or `nobody`): initdb refuses root.
//!
//! `SMSGW_TEST_PG=throwaway` forces the third way. Databases are named
//! `smsgw_e2e_<uuid v7>`; each is dropped when its stack is, and the first stack of a test
//! process drops those an earlier, killed, process left behind (older than an hour).

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

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use uuid::Uuid;

use crate::E2eError;

/// Name prefix of the databases made here.
const PREFIX: &str = "smsgw_e2e_";
/// Databases of earlier test processes older than this are dropped.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// The URL of a database on this process's server (tests replace the database part).
pub fn server_url() -> Result<&'static str, E2eError> {
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    URL.get_or_init(find_server)
        .as_deref()
        .map_err(|e| E2eError::Postgres(e.clone()))
}

fn find_server() -> Result<String, String> {
    let forced = std::env::var("SMSGW_TEST_PG").as_deref() == Ok("throwaway");
    if !forced {
        if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            return Ok(url);
        }
        let local = SocketAddr::from(([127, 0, 0, 1], 5432));
        if TcpStream::connect_timeout(&local, Duration::from_millis(300)).is_ok() {
            return Ok("postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        }
    }
    throwaway_cluster()
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

/// A database of one stack, dropped with it.
#[derive(Debug)]
pub struct Database {
    name: String,
    url: String,
    server: String,
}

impl Database {
    /// Creates `smsgw_e2e_<uuid v7>` on the server.
    pub async fn create() -> Result<Self, E2eError> {
        let server = server_url()?.to_owned();
        let mut admin = PgConnection::connect(&server)
            .await
            .map_err(|e| E2eError::Postgres(format!("cannot connect to {server}: {e}")))?;
        drop_stale(&mut admin).await;
        let name = format!("{PREFIX}{}", Uuid::now_v7().simple());
        admin
            .execute(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .await
            .map_err(|e| E2eError::Postgres(format!("cannot create {name}: {e}")))?;
        let _ = admin.close().await;
        Ok(Self {
            url: with_database(&server, &name),
            name,
            server,
        })
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops it, closing the connections still open (the API's, when it was killed).
    async fn drop_database(server: &str, name: &str) {
        if let Ok(mut admin) = PgConnection::connect(server).await {
            let _ = admin
                .execute(AssertSqlSafe(format!(
                    r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                )))
                .await;
            let _ = admin.close().await;
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread with a
        // runtime of its own does the work.
        let (server, name) = (self.server.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(Self::drop_database(&server, &name));
            }
        });
        let _ = dropped.join();
    }
}

/// Drops the databases that earlier test processes left (their names hold a UUID v7, so
/// their age is known); once per process.
async fn drop_stale(admin: &mut PgConnection) {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'smsgw\\_e2e\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default();
    let now = SystemTime::now();
    for name in names {
        let created = name
            .strip_prefix(PREFIX)
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
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// Makes and starts a cluster of this process's own; returns its URL.
fn throwaway_cluster() -> Result<String, String> {
    let missing = || {
        "no PostgreSQL server: set DATABASE_URL, start one on 127.0.0.1:5432, or install the \
         server binaries (initdb, pg_ctl; Debian: apt-get install postgresql)"
            .to_owned()
    };
    let initdb = program("initdb").ok_or_else(missing)?;
    let pg_ctl = program("pg_ctl").ok_or_else(missing)?;
    let user = nix::unistd::geteuid().is_root().then(|| {
        let has_postgres = Command::new("id")
            .arg("postgres")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if has_postgres { "postgres" } else { "nobody" }
    });
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    // The temp dir, so that the server's user can reach it when we run as root.
    let data = std::env::temp_dir().join(format!("smsgw-e2e-pg-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
    if let Some(user) = user {
        let mut chown = Command::new("chown");
        chown.arg(format!("{user}:")).arg(&data);
        run(chown, "chown of the cluster's directory")?;
    }
    let mut init = command_as(user, &initdb);
    init.arg("-D").arg(&data).args([
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
        data.display()
    );
    let mut start = command_as(user, &pg_ctl);
    start
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(data.join("server.log"))
        .args(["-o", &options, "-w", "-t", "60", "start"]);
    run(start, "pg_ctl start")?;
    // Stop and remove the cluster once this process is gone, however it ends.
    let runuser = user.map_or(String::new(), |u| format!("runuser -u {u} -- "));
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {runuser}'{pg_ctl}' -D '{dir}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        pg_ctl = pg_ctl.display(),
        dir = data.display(),
    );
    Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the cluster's watchdog: {e}"))?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}
