//! Test support: brokers, a simulated modem, an agent configuration with fast timings, and
//! `ApiSide`, an MQTT client that plays the API's part of the contract.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use smsgw_agent::Config;
use smsgw_shared::{
    EventId, MessageId, MessageState, MessageText, PhoneNumber, SiteId, TopicKind, Topics,
    wire::{
        self, AckCommand, CancelCommand, InboundEvent, ModemsState, Priority, SendCommand,
        StatusEvent, V1, WireMessage,
    },
};
use time::OffsetDateTime;
use tokio::{sync::Notify, time::Instant};

/// Mosquitto on its standard port, when this machine runs it. Required when `CI=true`.
pub fn mosquitto() -> Option<String> {
    let up = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:1883".parse().expect("address"),
        Duration::from_millis(300),
    )
    .is_ok();
    if up {
        return Some("mqtt://127.0.0.1:1883".into());
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "Mosquitto must listen on 127.0.0.1:1883 when CI=true"
    );
    eprintln!("SKIPPED: Mosquitto is not listening on 127.0.0.1:1883; this agent test did not run");
    None
}

/// The deployment key of tests that run smsgw-broker.
pub const SECRET: &str = "agent-tests-secret-0123456789abcdef";

/// A broker credential for `client_id`, as `smsgw-api sites create` issues it.
pub fn token(secret: &str, client_id: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = smsgw_shared::credentials::MqttClaims {
        sub: client_id.to_owned(),
        aud: smsgw_shared::credentials::MQTT_AUDIENCE.to_owned(),
        iat: now,
        exp: now + 3600,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("token")
}

/// smsgw-broker in-process on a free port (or on `addr` to restart it there).
pub async fn our_broker(addr: Option<std::net::SocketAddr>) -> smsgw_broker::BrokerHandle {
    let mut config = smsgw_broker::BrokerConfig::loopback();
    config.listeners.truncate(1);
    if let Some(addr) = addr {
        config.listeners[0].listen = addr;
    }
    config.metrics.listen = None;
    let secret: smsgw_broker::JwtSecret = SECRET.parse().expect("secret");
    smsgw_broker::start(config, &secret)
        .await
        .expect("broker starts")
}

/// Logs to the test output when `TEST_LOG` is set (e.g. `TEST_LOG=debug`).
pub fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
    });
}

/// 32 random hex digits.
pub fn random_hex() -> String {
    use rand::RngExt;
    format!("{:032x}", rand::rng().random::<u128>())
}

/// A unique site and topic root, so tests can share a broker.
pub fn unique() -> (SiteId, String) {
    let tag = random_hex();
    let site = format!("s{}", &tag[..12]).parse().expect("site id");
    (site, format!("test{}", &tag[..16]))
}

/// The TOML of an agent configuration with fast timings for `modems` (id, url).
pub fn agent_toml(
    site: &SiteId,
    root: &str,
    broker: &str,
    state_dir: &std::path::Path,
    modems: &[(&str, String)],
) -> String {
    let mut text = format!(
        "site = \"{site}\"\nstate_dir = \"{}\"\nmetrics_addr = \"\"\n\
         [mqtt]\nurl = \"{broker}\"\ntopic_root = \"{root}\"\nclient_id = \"agent-{site}\"\n\
         keep_alive_secs = 5\nreconnect_min_ms = 100\nreconnect_max_ms = 1000\nack_timeout_ms = 1500\n\
         [timing]\nnotification_poll_ms = 100\nlist_poll_ms = 500\nhealth_interval_ms = 500\n\
         multipart_settle_ms = 300\nsend_status_poll_ms = 30\nsend_status_timeout_ms = 3000\n\
         retry_min_ms = 100\nretry_max_ms = 1000\nmax_attempts = 4\nbreaker_failures = 3\n\
         breaker_open_ms = 500\nmodem_connect_timeout_ms = 500\nmodem_request_timeout_ms = 1500\n",
        state_dir.display()
    );
    for (id, url) in modems {
        text.push_str(&format!(
            "[[modems]]\nid = \"{id}\"\nurl = \"{url}\"\nusername = \"admin\"\npassword = \"admin\"\nmax_per_minute = 600\nmin_gap_ms = 0\n"
        ));
    }
    text
}

/// An agent configuration with fast timings for `modems` (id, url).
pub fn agent_config(
    site: &SiteId,
    root: &str,
    broker: &str,
    state_dir: &std::path::Path,
    modems: &[(&str, String)],
) -> Config {
    Config::from_toml(&agent_toml(site, root, broker, state_dir, modems), |_| None)
        .expect("test config is valid")
}

/// A send command to `to` with `text`.
pub fn send_command(to: &str, text: &str) -> SendCommand {
    SendCommand {
        v: V1,
        id: MessageId::new(),
        to: to.parse::<PhoneNumber>().expect("valid number"),
        text: MessageText::parse(text).expect("valid text"),
        modem: None,
        priority: Priority::Normal,
        expires_at: None,
        delivery_report: true,
        issued_at: OffsetDateTime::now_utc(),
    }
}

/// What the API side has seen.
#[derive(Default)]
pub struct Seen {
    /// Status events per message, in arrival order.
    pub status: HashMap<MessageId, Vec<StatusEvent>>,
    /// Inbound events, by event id (a re-published event counts once).
    pub inbound: HashMap<EventId, InboundEvent>,
    /// Every event id received, with how often.
    pub deliveries: HashMap<EventId, u32>,
    /// The latest `state/modems`.
    pub modems: Option<ModemsState>,
    /// The latest presence (`online`/`offline`, session).
    pub presence: Option<(wire::Presence, u64)>,
}

/// The API's part of the contract, over a real MQTT connection.
pub struct ApiSide {
    client: AsyncClient,
    topics: Topics,
    site: SiteId,
    /// What arrived.
    pub seen: Arc<Mutex<Seen>>,
    changed: Arc<Notify>,
    /// Acknowledge events (as the API does); off to test re-publishing.
    pub acking: Arc<std::sync::atomic::AtomicBool>,
}

impl ApiSide {
    /// Connects to `broker` and subscribes to the site's events and state.
    pub async fn connect(broker: &str, root: &str, site: &SiteId) -> Self {
        Self::connect_with(broker, root, site, None).await
    }

    /// Connects with a JWT minted from `secret` (for smsgw-broker).
    pub async fn connect_with(
        broker: &str,
        root: &str,
        site: &SiteId,
        secret: Option<&str>,
    ) -> Self {
        let rest = broker.trim_start_matches("mqtt://");
        let (host, port) = rest.rsplit_once(':').expect("host:port");
        let id = format!("api-{}", &random_hex()[..12]);
        let mut options = MqttOptions::new(id.clone(), host, port.parse().expect("port"));
        options
            .set_keep_alive(Duration::from_secs(5))
            .set_max_packet_size(1 << 20, 1 << 20);
        if let Some(secret) = secret {
            options.set_credentials(id.clone(), token(secret, &id));
        }
        let (client, mut eventloop) = AsyncClient::new(options, 1024);
        let topics = Topics::new(root).expect("root");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let changed = Arc::new(Notify::new());
        let acking = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let api = ApiSide {
            client: client.clone(),
            topics: topics.clone(),
            site: site.clone(),
            seen: seen.clone(),
            changed: changed.clone(),
            acking: acking.clone(),
        };
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let mut ready_tx = Some(ready_tx);
        let site = site.clone();
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        for kind in [
                            TopicKind::EventStatus,
                            TopicKind::EventInbound,
                            TopicKind::StateConn,
                            TopicKind::StateModems,
                        ] {
                            let _ = client
                                .subscribe(topics.topic(&site, kind), QoS::AtLeastOnce)
                                .await;
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(tx) = ready_tx.take() {
                            // Wait for the last of the four subscriptions to be answered.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            let _ = tx.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let Ok((_, kind)) = topics.parse(&p.topic) else {
                            continue;
                        };
                        let Ok(message) = WireMessage::decode(kind, &p.payload) else {
                            continue;
                        };
                        let mut ack = None;
                        {
                            let mut seen = seen.lock().expect("lock");
                            match message {
                                WireMessage::Status(e) => {
                                    *seen.deliveries.entry(e.event_id).or_default() += 1;
                                    ack = Some(e.event_id);
                                    seen.status.entry(e.id).or_default().push(e);
                                }
                                WireMessage::Inbound(e) => {
                                    *seen.deliveries.entry(e.event_id).or_default() += 1;
                                    ack = Some(e.event_id);
                                    seen.inbound.insert(e.event_id, e);
                                }
                                WireMessage::Modems(m) => seen.modems = Some(m),
                                WireMessage::Conn(c) => seen.presence = Some((c.state, c.session)),
                                _ => {}
                            }
                        }
                        if let Some(id) =
                            ack.filter(|_| acking.load(std::sync::atomic::Ordering::SeqCst))
                        {
                            let payload = wire::encode(&AckCommand {
                                v: V1,
                                event_ids: vec![id],
                            });
                            // Never awaited inside the task that polls: a burst of
                            // events would fill the request channel and deadlock it. An
                            // ack that does not fit is lost; the agent publishes again.
                            let _ = client.try_publish(
                                topics.topic(&site, TopicKind::CommandAck),
                                QoS::AtLeastOnce,
                                false,
                                payload,
                            );
                        }
                        changed.notify_waiters();
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(10), ready_rx)
            .await
            .expect("the API side subscribed in time")
            .expect("subscribed");
        api
    }

    /// Publishes a send command.
    pub async fn send(&self, command: &SendCommand) {
        let topic = self.topics.topic(&self.site, TopicKind::CommandSend);
        self.client
            .publish(topic, QoS::AtLeastOnce, false, wire::encode(command))
            .await
            .expect("publish send");
    }

    /// Publishes a cancel command.
    pub async fn cancel(&self, id: MessageId) {
        let topic = self.topics.topic(&self.site, TopicKind::CommandCancel);
        let payload = wire::encode(&CancelCommand { v: V1, id });
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .expect("publish cancel");
    }

    /// Publishes raw bytes on a command topic (for malformed payloads).
    pub async fn raw(&self, kind: TopicKind, payload: &[u8]) {
        let topic = self.topics.topic(&self.site, kind);
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
            .await
            .expect("publish");
    }

    /// Waits until `check` holds on what was seen, or panics after `within`.
    pub async fn wait_for<T>(
        &self,
        within: Duration,
        what: &str,
        check: impl Fn(&Seen) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.changed.notified();
            if let Some(v) = check(&self.seen.lock().expect("lock")) {
                return v;
            }
            if Instant::now() >= deadline {
                let seen = self.seen.lock().expect("lock");
                let states: Vec<_> = seen
                    .status
                    .values()
                    .flatten()
                    .map(|e| (e.id, e.state, e.attempt, e.error.as_ref().map(|f| f.code)))
                    .collect();
                panic!("timed out waiting for {what}; status events seen: {states:?}");
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
    }

    /// Waits until message `id` reached `state` (an event with that state arrived).
    pub async fn wait_state(
        &self,
        id: MessageId,
        state: MessageState,
        within: Duration,
    ) -> StatusEvent {
        self.wait_for(within, &format!("{id} to reach {state}"), |seen| {
            seen.status
                .get(&id)?
                .iter()
                .find(|e| e.state == state)
                .cloned()
        })
        .await
    }

    /// The states reported for `id`, in arrival order, without repeats.
    pub fn states(&self, id: MessageId) -> Vec<MessageState> {
        let seen = self.seen.lock().expect("lock");
        let mut states: Vec<MessageState> = Vec::new();
        for e in seen
            .status
            .get(&id)
            .map(|v| v.as_slice())
            .unwrap_or_default()
        {
            if states.last() != Some(&e.state) {
                states.push(e.state);
            }
        }
        states
    }
}
