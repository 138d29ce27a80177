//! Shared pieces of the broker tests: an in-process broker on free ports, credentials
//! minted with jsonwebtoken (as the API does), and an MQTT test client that records what
//! it receives.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{
        Once,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rumqttc::{
    AsyncClient, ConnectionError, Event, MqttOptions, Packet, Publish, QoS, SubscribeFilter,
    SubscribeReasonCode, Transport,
};
use smsgw_broker::{BrokerConfig, BrokerHandle, JwtSecret};
use smsgw_shared::credentials::{MQTT_AUDIENCE, MqttClaims};
use tokio::{sync::mpsc, task::JoinHandle, time::timeout};

/// The deployment key of the tests.
pub const SECRET: &str = "broker-tests-secret-0123456789abcdef";

/// How long a test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// How long a test waits for something that should not happen.
pub const QUIET: Duration = Duration::from_millis(500);

pub fn secret() -> JwtSecret {
    SECRET.parse().expect("the test secret is long enough")
}

/// Logs (with `TEST_LOG=1`) and the connection meter, once per test process.
pub fn init_tracing() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};
        let logs = std::env::var_os("TEST_LOG").map(|_| {
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(EnvFilter::new("info"))
        });
        let _ = tracing_subscriber::registry()
            .with(logs)
            .with(smsgw_broker::metrics::connection_meter())
            .try_init();
    });
}

/// A broker on free loopback ports (MQTT 3.1.1, MQTT 5, metrics).
pub async fn spawn_broker() -> BrokerHandle {
    init_tracing();
    smsgw_broker::start(BrokerConfig::loopback(), &secret())
        .await
        .expect("the broker starts")
}

/// A lowercase alphanumeric id, unique in this test run and across runs: sites, topic
/// roots and group names of tests that share a broker (Mosquitto keeps retained messages).
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}{:x}{n}",
        nanos ^ (u64::from(std::process::id()) << 40)
    )
}

pub fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

/// A broker credential as the API mints it.
pub fn token(sub: &str) -> String {
    token_with(SECRET, sub, MQTT_AUDIENCE, now() + 3600)
}

/// A credential with every part chosen by the test.
pub fn token_with(key: &str, sub: &str, aud: &str, exp: i64) -> String {
    let claims = MqttClaims {
        sub: sub.into(),
        aud: aud.into(),
        iat: now(),
        exp,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.as_bytes()),
    )
    .expect("the token encodes")
}

/// A broker the shared checks run against.
#[derive(Clone)]
pub struct Target {
    pub name: &'static str,
    pub host: String,
    pub port: u16,
    /// Whether clients present a JWT (smsgw-broker) or nothing (the test Mosquitto).
    pub auth: bool,
    pub tls_ca: Option<Vec<u8>>,
}

impl Target {
    pub fn broker(addr: SocketAddr) -> Self {
        Self {
            name: "smsgw-broker",
            host: addr.ip().to_string(),
            port: addr.port(),
            auth: true,
            tls_ca: None,
        }
    }

    /// Connects as `client_id` and disconnects again, or fails the test.
    pub async fn assert_connects(&self, client_id: &str) {
        TestClient::connected(self.options(client_id))
            .await
            .disconnect()
            .await;
    }

    /// A new API-replica client subscribed to `filter` (SUBACK received).
    pub async fn subscriber(&self, filter: &str) -> TestClient {
        let mut client = TestClient::connected(self.options(&unique("api-"))).await;
        client.subscribe(filter).await;
        client
    }

    /// Options for `client_id`, with its credential when the broker wants one.
    pub fn options(&self, client_id: &str) -> MqttOptions {
        let mut options = MqttOptions::new(client_id, &self.host, self.port);
        options.set_keep_alive(Duration::from_secs(5));
        if self.auth {
            options.set_credentials(client_id, token(client_id));
        }
        if let Some(ca) = &self.tls_ca {
            options.set_transport(Transport::tls(ca.clone(), None, None));
        }
        options
    }
}

/// An MQTT client whose event loop runs in a task; it stops at the first error instead
/// of reconnecting, so that tests see refusals and disconnections.
pub struct TestClient {
    pub client: AsyncClient,
    events: mpsc::UnboundedReceiver<Result<Event, ConnectionError>>,
    publishes: VecDeque<Publish>,
    task: JoinHandle<()>,
}

impl TestClient {
    /// Connects and waits for the CONNACK; the error if the connection fails first.
    pub async fn connect(options: MqttOptions) -> Result<Self, ConnectionError> {
        let (client, mut event_loop) = AsyncClient::new(options, 100);
        let (tx, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                let event = event_loop.poll().await;
                let failed = event.is_err();
                if tx.send(event).is_err() || failed {
                    break;
                }
            }
        });
        let mut this = Self {
            client,
            events,
            publishes: VecDeque::new(),
            task,
        };
        match timeout(PATIENCE, this.events.recv()).await {
            Ok(Some(Ok(Event::Incoming(Packet::ConnAck(_))))) => Ok(this),
            Ok(Some(Err(e))) => Err(e),
            other => panic!("expected a CONNACK or an error, got {other:?}"),
        }
    }

    /// Connects or fails the test.
    pub async fn connected(options: MqttOptions) -> Self {
        let id = options.client_id();
        Self::connect(options)
            .await
            .unwrap_or_else(|e| panic!("{id} should connect: {e:?}"))
    }

    /// Waits for the next event that `wanted` accepts, keeping publishes for later.
    async fn wait_for(&mut self, what: &str, wanted: impl Fn(&Event) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
            match event {
                Some(Ok(event)) if wanted(&event) => return,
                Some(Ok(Event::Incoming(Packet::Publish(p)))) => self.publishes.push_back(p),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("connection failed while waiting for {what}: {e:?}"),
                None => panic!("event loop gone while waiting for {what}"),
            }
        }
    }

    /// Subscribes with QoS 1 and waits for the SUBACK.
    pub async fn subscribe(&mut self, filter: &str) {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .expect("subscribe queued");
        self.wait_for("SUBACK", |e| {
            matches!(e, Event::Incoming(Packet::SubAck(_)))
        })
        .await;
    }

    /// Subscribes to `filters` (QoS 1) in one SUBSCRIBE; the codes of its SUBACK.
    pub async fn subscribe_codes(&mut self, filters: &[&str]) -> Vec<SubscribeReasonCode> {
        let filters = filters
            .iter()
            .map(|f| SubscribeFilter::new((*f).to_owned(), QoS::AtLeastOnce));
        self.client
            .subscribe_many(filters)
            .await
            .expect("subscribe queued");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .expect("a SUBACK in time");
            match event {
                Some(Ok(Event::Incoming(Packet::SubAck(ack)))) => return ack.return_codes,
                Some(Ok(Event::Incoming(Packet::Publish(p)))) => self.publishes.push_back(p),
                Some(Ok(_)) => {}
                other => panic!("connection failed while waiting for a SUBACK: {other:?}"),
            }
        }
    }

    /// Publishes with QoS 1: whether the broker acknowledged it or closed the connection.
    pub async fn publish_outcome(&mut self, topic: &str, payload: &[u8], retain: bool) -> Outcome {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.to_vec())
            .await
            .expect("publish queued");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(Ok(Event::Incoming(Packet::PubAck(_))))) => return Outcome::Acked,
                Ok(Some(Ok(Event::Incoming(Packet::Publish(p))))) => self.publishes.push_back(p),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => return Outcome::Closed,
                Err(_) => panic!("neither a PUBACK nor the end of the connection"),
            }
        }
    }

    /// Publishes with QoS 1 and waits for the PUBACK.
    pub async fn publish(&mut self, topic: &str, payload: &[u8], retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.to_vec())
            .await
            .expect("publish queued");
        self.wait_for("PUBACK", |e| {
            matches!(e, Event::Incoming(Packet::PubAck(_)))
        })
        .await;
    }

    /// The next message received within `within`.
    pub async fn next_publish_within(&mut self, within: Duration) -> Option<Publish> {
        if let Some(p) = self.publishes.pop_front() {
            return Some(p);
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => return None,
                Ok(Some(Ok(Event::Incoming(Packet::Publish(p))))) => return Some(p),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(e))) => panic!("connection failed while waiting for a message: {e:?}"),
                Ok(None) => return None,
            }
        }
    }

    /// The next message, or fails the test.
    pub async fn next_publish(&mut self) -> Publish {
        self.next_publish_within(PATIENCE)
            .await
            .expect("a message should arrive")
    }

    /// The error that ends the connection (e.g. when the broker stops).
    pub async fn closed(&mut self) -> ConnectionError {
        loop {
            match timeout(PATIENCE, self.events.recv()).await {
                Ok(Some(Err(e))) => return e,
                Ok(Some(Ok(_))) => {}
                Ok(None) => panic!("event loop ended without an error"),
                Err(_) => panic!("the connection stayed open"),
            }
        }
    }

    /// Drops the connection without DISCONNECT, as a crashed or unplugged agent does.
    pub fn kill(self) {
        self.task.abort();
    }

    /// Disconnects politely (no Last Will).
    pub async fn disconnect(mut self) {
        let _ = self.client.disconnect().await;
        let _ = timeout(PATIENCE, async {
            while let Some(Ok(_)) = self.events.recv().await {}
        })
        .await;
        self.task.abort();
    }
}

/// What became of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The broker sent its PUBACK.
    Acked,
    /// The broker closed the connection.
    Closed,
}

/// `GET path` on a plain HTTP server; the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the HTTP server accepts");
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response read");
    assert!(
        response.starts_with("HTTP/1.1 200"),
        "unexpected response: {response}"
    );
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}
