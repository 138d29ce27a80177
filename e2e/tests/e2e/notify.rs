//! systemd's notify protocol, which the units of the API and the broker rely on
//! (`Type=notify`): each program, given `NOTIFY_SOCKET`, sends `READY=1` once it serves
//! and `STOPPING=1` when SIGTERM starts its shutdown. The test plays systemd's part: it
//! binds the datagram socket, reads what arrives, and checks that the program answers at
//! the moment it says it is ready.

use std::{path::PathBuf, time::Duration};

use smsgw_e2e::{
    binaries,
    postgres::Database,
    process::{Process, free_port},
};
use tempfile::TempDir;
use tokio::net::{TcpStream, UnixDatagram};

/// Longest wait for a start or a stop on a loaded machine.
const WITHIN: Duration = Duration::from_secs(60);

/// A secret the API and the broker accept (32 bytes or more, not a pattern).
const SECRET: &str = "e2e-notify-7f3c9a1be5d04c68b2a9e1f0d7c3b5a8";

/// The socket systemd would listen on for one service.
struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    fn bind(dir: &TempDir, service: &str) -> Self {
        let path = dir.path().join(format!("{service}.notify"));
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        Self { socket, path }
    }

    /// The value of `NOTIFY_SOCKET` for the service.
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// Reads datagrams until one holds the line `wanted` (e.g. `READY=1`); returns every
    /// line read, or fails after [`WITHIN`].
    async fn expect(&self, wanted: &str, process: &Process) -> Vec<String> {
        let mut seen = Vec::new();
        let mut buf = vec![0; 4096];
        loop {
            let n = tokio::time::timeout(WITHIN, self.socket.recv(&mut buf))
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{} sent no {wanted} within {WITHIN:?} (got {seen:?}); its log:\n{}",
                        process.name(),
                        process.log_tail(20)
                    )
                })
                .expect("read the notify socket");
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            seen.extend(text.lines().map(str::to_owned));
            if text.lines().any(|l| l == wanted) {
                return seen;
            }
        }
    }
}

/// The broker, then the API (which connects to it), each with its own socket: both say
/// READY=1 only once their port answers, and STOPPING=1 on SIGTERM, before they exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_the_broker_tell_systemd_when_they_serve_and_when_they_stop() {
    let bins = binaries().expect("the programs are built");
    let db = Database::create().await.expect("a database");
    let dir = tempfile::Builder::new()
        .prefix("smsgw-e2e-notify-")
        .tempdir()
        .expect("a temp dir");

    let mqtt_port = free_port().expect("a port");
    let broker_config = dir.path().join("broker.toml");
    std::fs::write(
        &broker_config,
        format!("[[listeners]]\nname = \"e2e\"\nlisten = \"127.0.0.1:{mqtt_port}\"\n"),
    )
    .expect("write broker.toml");
    let broker_notify = NotifySocket::bind(&dir, "broker");
    let mut broker = Process::new(
        "smsgw-broker",
        &bins.broker,
        [
            "run".to_owned(),
            "--config".to_owned(),
            broker_config.display().to_string(),
        ],
        [
            ("SMSGW_JWT_SECRET", SECRET.to_owned()),
            ("NOTIFY_SOCKET", broker_notify.name()),
        ],
        dir.path().join("broker.log"),
    );
    broker.start().expect("start the broker");
    broker_notify.expect("READY=1", &broker).await;
    TcpStream::connect(("127.0.0.1", mqtt_port))
        .await
        .expect("the broker accepts connections when it says READY=1");

    let http_port = free_port().expect("a port");
    let api_notify = NotifySocket::bind(&dir, "api");
    let mut api = Process::new(
        "smsgw-api",
        &bins.api,
        ["serve"],
        [
            ("DATABASE_URL", db.url().to_owned()),
            ("SMSGW_KEY_PEPPER", SECRET.to_owned()),
            ("SMSGW_JWT_SECRET", SECRET.to_owned()),
            ("SMSGW_HTTP_ADDR", format!("127.0.0.1:{http_port}")),
            ("SMSGW_MQTT_URL", format!("mqtt://127.0.0.1:{mqtt_port}")),
            ("NOTIFY_SOCKET", api_notify.name()),
        ],
        dir.path().join("api.log"),
    );
    api.start().expect("start the API");
    api_notify.expect("READY=1", &api).await;
    let health = reqwest::get(format!("http://127.0.0.1:{http_port}/healthz"))
        .await
        .expect("the API serves when it says READY=1");
    assert_eq!(health.status(), 200);

    for (process, socket) in [(&mut api, &api_notify), (&mut broker, &broker_notify)] {
        process.stop().await;
        let seen = socket.expect("STOPPING=1", process).await;
        assert!(!seen.iter().any(|l| l == "READY=1"), "{seen:?}");
        assert!(!process.running(), "{} still runs", process.name());
    }
}
