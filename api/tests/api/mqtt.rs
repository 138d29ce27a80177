//! The API's MQTT side against real brokers — smsgw-broker in-process and Mosquitto at
//! 127.0.0.1:1883 (required when `CI=true`, skipped with a message otherwise). A test
//! agent (a plain MQTT client) stands in for the branch: it receives the commands and
//! publishes events the way `smsgw-agent` does. Each test uses its own topic root, so
//! tests sharing Mosquitto never see each other's messages.

use std::{net::SocketAddr, time::Duration};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use smsgw_api::{
    config::{Secret, ServeConfig},
    mqtt::credentials::{DEFAULT_VALIDITY, issue_agent_credential},
};
use smsgw_shared::{
    ids::{EventId, MessageId, ModemId, SiteId},
    state::MessageState,
    topic::{TopicKind, Topics},
    wire::{self, ConnState, InboundEvent, Presence, SendCommand, StatusEvent, V1},
};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::helpers::{PEPPER, TestApp, create_database, spawn_app_until, status_json};

/// The deployment key of these tests (smsgw-broker wants at least 32 bytes).
pub(crate) const SECRET: &str = "api-mqtt-tests-secret-0123456789abcdef";
/// Longest wait for something to cross the broker.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// Which broker a test runs against.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Ours,
    Mosquitto,
}

/// A running broker.
pub(crate) struct Broker {
    url: String,
    pub(crate) kind: Kind,
    ours: Option<smsgw_broker::BrokerHandle>,
}

impl Broker {
    /// smsgw-broker on a free port, or on `addr`.
    pub(crate) async fn ours(addr: Option<SocketAddr>) -> Broker {
        // One metrics recorder per process: the API's, so that its /metrics shows what
        // these tests look for (the broker's counters land there too).
        let _ = smsgw_api::http::metrics::handle();
        let mut config = smsgw_broker::BrokerConfig::loopback();
        config.listeners.truncate(1);
        if let Some(addr) = addr {
            config.listeners[0].listen = addr;
        }
        config.metrics.listen = None;
        let secret: smsgw_broker::JwtSecret = SECRET.parse().expect("secret");
        let handle = smsgw_broker::start(config, &secret)
            .await
            .expect("broker starts");
        Broker {
            url: format!("mqtt://{}", handle.mqtt_addr.expect("a plain listener")),
            kind: Kind::Ours,
            ours: Some(handle),
        }
    }

    /// Mosquitto, when it listens.
    pub(crate) fn mosquitto() -> Option<Broker> {
        let up = std::net::TcpStream::connect_timeout(
            &"127.0.0.1:1883".parse().expect("address"),
            Duration::from_millis(300),
        )
        .is_ok();
        if !up {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "Mosquitto must listen on 127.0.0.1:1883 when CI=true"
            );
            eprintln!(
                "SKIPPED: Mosquitto is not listening on 127.0.0.1:1883; this API test did not run against it"
            );
            return None;
        }
        Some(Broker {
            url: "mqtt://127.0.0.1:1883".into(),
            kind: Kind::Mosquitto,
            ours: None,
        })
    }

    /// The brokers a test runs against: ours, then Mosquitto when it is there.
    pub(crate) async fn all() -> Vec<Broker> {
        let mut brokers = vec![Broker::ours(None).await];
        brokers.extend(Broker::mosquitto());
        brokers
    }

    pub(crate) async fn stop(self) {
        if let Some(handle) = self.ours {
            handle.shutdown().await;
        }
    }
}

/// A topic root no other test uses.
pub(crate) fn unique_root() -> String {
    format!("t{}", &Uuid::now_v7().simple().to_string()[20..])
}

/// An API replica connected to `broker`, on `db_url`.
pub(crate) async fn replica(
    broker: &Broker,
    db_url: &str,
    root: &str,
) -> (TestApp, tokio::task::JoinHandle<std::io::Result<()>>) {
    let mut config = ServeConfig::for_database(db_url, PEPPER);
    config.jwt_secret = Some(Secret::new(SECRET));
    config.mqtt.mqtt_url = Some(broker.url.parse().expect("broker url"));
    config.mqtt.mqtt_topic_root = root.to_owned();
    spawn_app_until(config, std::future::pending()).await
}

/// A fresh database, one replica on it ready, a site `main` with a key, and its agent
/// connected: what most tests start from.
pub(crate) async fn setup(broker: &Broker) -> (TestApp, String, Agent) {
    let root = unique_root();
    let db_url = create_database().await;
    let (app, _task) = replica(broker, &db_url, &root).await;
    let key = app.with_site_and_key().await;
    broker_becomes(&app, "connected").await;
    let agent = Agent::connect(broker, &root, "main").await;
    (app, key, agent)
}

/// The stand-in for a branch agent.
pub(crate) struct Agent {
    client: AsyncClient,
    topics: Topics,
    site: SiteId,
    inbox: mpsc::UnboundedReceiver<(TopicKind, Value)>,
    session: u64,
    /// Its connection loop, which reconnects for ever: dropping the agent stops it.
    connection: tokio::task::JoinHandle<()>,
    subscriptions: tokio::sync::watch::Receiver<u32>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl Agent {
    /// Connects as `agent-{site}` and subscribes to the site's commands.
    pub(crate) async fn connect(broker: &Broker, root: &str, site: &str) -> Agent {
        let site: SiteId = site.parse().expect("site");
        let topics = Topics::new(root).expect("root");
        let credential =
            issue_agent_credential(SECRET, &site, OffsetDateTime::now_utc(), DEFAULT_VALIDITY)
                .expect("credential");
        let url: smsgw_shared::broker::BrokerUrl = broker.url.parse().expect("url");
        // Tests share Mosquitto: a client id of its own keeps them from taking over
        // each other's connection. smsgw-broker binds the id to the token instead.
        let client_id = match broker.kind {
            Kind::Ours => credential.client_id.clone(),
            Kind::Mosquitto => format!("{}-{root}", credential.client_id),
        };
        let mut options = MqttOptions::new(client_id, url.host, url.port);
        options.set_keep_alive(Duration::from_secs(5));
        if matches!(broker.kind, Kind::Ours) {
            options.set_credentials(credential.client_id, credential.token);
        }
        let (client, mut eventloop) = AsyncClient::new(options, 256);
        let (tx, inbox) = mpsc::unbounded_channel();
        // How many times it has subscribed (once per connection).
        let (subscribed_tx, mut subscriptions) = tokio::sync::watch::channel(0u32);
        let filter = topics.agent_commands(&site);
        let parse_topics = topics.clone();
        let sub_client = client.clone();
        let connection = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = sub_client.subscribe(filter.clone(), QoS::AtLeastOnce).await;
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        subscribed_tx.send_modify(|n| *n += 1);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if let Ok((_, kind)) = parse_topics.parse(&p.topic) {
                            let value = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                            if tx.send((kind, value)).is_err() {
                                return;
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(WAIT, subscriptions.wait_for(|n| *n > 0))
            .await
            .expect("the agent subscribes in time")
            .expect("subscribed");
        subscriptions.mark_unchanged();
        Agent {
            client,
            topics,
            site,
            inbox,
            session: 1,
            connection,
            subscriptions,
        }
    }

    /// Waits until it has reconnected (to a restarted broker) and subscribed again.
    pub(crate) async fn resubscribed(&mut self) {
        tokio::time::timeout(WAIT, self.subscriptions.changed())
            .await
            .expect("the agent subscribes again in time")
            .expect("its connection runs");
    }

    pub(crate) async fn publish(&self, kind: TopicKind, payload: Vec<u8>) {
        self.client
            .publish(
                self.topics.topic(&self.site, kind),
                QoS::AtLeastOnce,
                kind.retained(),
                payload,
            )
            .await
            .expect("publish");
    }

    /// Announces itself online, as the agent does on every ConnAck.
    pub(crate) async fn online(&self) {
        let state = ConnState {
            v: V1,
            state: Presence::Online,
            session: self.session,
            agent_version: "test".into(),
            at: OffsetDateTime::now_utc(),
        };
        self.publish(TopicKind::StateConn, wire::encode(&state))
            .await;
    }

    /// Reports a state of a message; returns the event id.
    pub(crate) async fn status(&self, id: Uuid, state: MessageState) -> EventId {
        let event_id = EventId::new();
        self.report(id, state, event_id).await;
        event_id
    }

    /// Publishes a status event with a given event id (again, when the API did not
    /// confirm it).
    pub(crate) async fn report(&self, id: Uuid, state: MessageState, event_id: EventId) {
        let event = StatusEvent {
            v: V1,
            event_id,
            id: MessageId::from_uuid(id).expect("v7"),
            state,
            modem: Some("usb0".parse::<ModemId>().expect("modem")),
            at: OffsetDateTime::now_utc(),
            attempt: 1,
            error: None,
        };
        self.publish(TopicKind::EventStatus, wire::encode(&event))
            .await;
    }

    /// The next message of `kind`, skipping others.
    pub(crate) async fn next(&mut self, kind: TopicKind) -> Value {
        tokio::time::timeout(WAIT, async {
            loop {
                let (k, value) = self.inbox.recv().await.expect("agent connection");
                if k == kind {
                    return value;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {kind:?} within {WAIT:?}"))
    }

    /// Waits for `command/ack` messages until `event` was confirmed.
    pub(crate) async fn confirmed(&mut self, event: EventId) {
        let wanted = event.to_string();
        loop {
            let ack = self.next(TopicKind::CommandAck).await;
            let ids = ack["event_ids"].as_array().expect("event_ids");
            if ids.iter().any(|id| id.as_str() == Some(wanted.as_str())) {
                return;
            }
        }
    }

    /// Reports a state and publishes it again until the API confirms it, as the agent's
    /// outbox does.
    pub(crate) async fn deliver(&mut self, id: Uuid, state: MessageState) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let event = self.status(id, state).await;
        loop {
            let confirmed =
                tokio::time::timeout(Duration::from_secs(1), self.confirmed(event)).await;
            if confirmed.is_ok() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{state:?} never confirmed"
            );
            self.report(id, state, event).await;
        }
    }

    /// Nothing of `kind` arrives for `quiet`.
    pub(crate) async fn nothing(&mut self, kind: TopicKind, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        while let Ok(Some((k, value))) = tokio::time::timeout_at(deadline, self.inbox.recv()).await
        {
            assert_ne!(k, kind, "unexpected {kind:?}: {value}");
        }
    }
}

pub(crate) async fn send(app: &TestApp, key: &str, body: Value) -> Uuid {
    let (status, body) = status_json(app.send(key, &body).await).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().expect("id").parse().expect("uuid")
}

pub(crate) async fn status_of(app: &TestApp, id: Uuid) -> String {
    sqlx::query_scalar("SELECT status FROM messages WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .expect("status")
}

/// Waits until the message has `state` in the database.
pub(crate) async fn reaches(app: &TestApp, id: Uuid, state: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = status_of(app, id).await;
        if now == state {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "message {id} is {now}, not {state}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn ready(app: &TestApp) -> (u16, Value) {
    let r = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("readyz");
    status_json(r).await
}

/// Waits until `/readyz` reports the broker link `state` (`connected`, `disconnected`);
/// readiness itself stays 200 throughout, since it needs only the database.
pub(crate) async fn broker_becomes(app: &TestApp, state: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = ready(app).await;
        assert_eq!(status, 200, "ready whatever the broker does: {body}");
        if body["broker"] == state {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the broker link stays {}",
            body["broker"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_message_travels_to_the_agent_and_its_events_come_back_confirmed() {
    for broker in Broker::all().await {
        let (app, key, mut agent) = setup(&broker).await;

        // The site has never been seen: the message waits queued, nothing is published.
        let id = send(
            &app,
            &key,
            json!({"phone": "+33612345678", "content": "hello"}),
        )
        .await;
        agent
            .nothing(TopicKind::CommandSend, Duration::from_millis(1500))
            .await;
        assert_eq!(status_of(&app, id).await, "queued", "{:?}", broker.kind);

        // The agent comes online: the command goes out at once.
        agent.online().await;
        let command = agent.next(TopicKind::CommandSend).await;
        let command: SendCommand = serde_json::from_value(command).expect("a send command");
        assert_eq!(command.id.as_uuid(), id);
        assert_eq!(command.to.as_str(), "+33612345678");
        reaches(&app, id, "dispatched").await;

        // Its events are applied and confirmed with command/ack.
        for state in [
            MessageState::Accepted,
            MessageState::Sending,
            MessageState::Sent,
        ] {
            let event = agent.status(id, state).await;
            agent.confirmed(event).await;
            reaches(&app, id, state.as_str()).await;
        }
        // A duplicate is confirmed again and changes nothing; an older state neither.
        let late = agent.status(id, MessageState::Accepted).await;
        agent.confirmed(late).await;
        assert_eq!(status_of(&app, id).await, "sent");

        // Inbound SMS reach the API and are confirmed.
        let inbound = InboundEvent {
            v: V1,
            event_id: EventId::new(),
            from: "+33698765432".into(),
            text: "reply".into(),
            modem: "usb0".parse().expect("modem"),
            received_at: OffsetDateTime::now_utc(),
            segments: 1,
        };
        agent
            .publish(TopicKind::EventInbound, wire::encode(&inbound))
            .await;
        agent.confirmed(inbound.event_id).await;
        let r = app
            .get(&key, "/api/v1/messages?direction=inbound")
            .send()
            .await
            .expect("list");
        let (_, list) = status_json(r).await;
        assert_eq!(list["messages"][0]["content"], "reply", "{list}");

        // The modems' state reaches the site and the gauges of /metrics.
        let modems = include_str!("../../../shared/tests/golden/state_modems.json");
        agent
            .publish(TopicKind::StateModems, modems.as_bytes().to_vec())
            .await;
        let deadline = tokio::time::Instant::now() + WAIT;
        while sqlx::query_scalar::<_, i64>("SELECT count(*) FROM modems")
            .fetch_one(&app.db)
            .await
            .expect("modems")
            < 2
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "modems never stored"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // Connected to the broker, the agent online and a modem up: healthy, in the
        // original gateway's terms.
        let r = app
            .client
            .get(format!("{}/api/health", app.address))
            .send()
            .await
            .expect("health");
        let (_, health) = status_json(r).await;
        assert_eq!(
            (health["status"].as_str(), health["broker"].as_str()),
            (Some("healthy"), Some("connected")),
            "{health}"
        );
        assert_eq!(
            health["modem"],
            json!({"connected": true, "signal_strength": 80, "network": "Orange F"})
        );

        // Malformed payloads are dropped, counted and do not stop the loop.
        agent
            .publish(TopicKind::EventStatus, b"{not json".to_vec())
            .await;
        let after = agent.status(id, MessageState::Delivered).await;
        agent.confirmed(after).await;
        reaches(&app, id, "delivered").await;
        let metrics = app.metrics_text().await;
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("smsgw_mqtt_invalid_total{")
                    && l.contains("kind=\"event/status\"")),
            "{metrics}"
        );
        for line in [
            "smsgw_site_online{site=\"main\"} 1",
            "smsgw_modem_up{site=\"main\",modem=\"usb0\"} 1",
            "smsgw_modem_up{site=\"main\",modem=\"usb1\"} 0",
            "smsgw_modem_signal_bars{site=\"main\",modem=\"usb0\"} 4",
        ] {
            assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
        }
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("smsgw_message_transitions_total{")
                    && l.contains("state=\"sent\"")),
            "{metrics}"
        );
        broker.stop().await;
    }
}

#[tokio::test]
async fn a_lost_command_is_dispatched_again_by_whichever_replica_is_alive() {
    for broker in Broker::all().await {
        let root = unique_root();
        let db_url = create_database().await;
        let (first, first_task) = replica(&broker, &db_url, &root).await;
        let (second, _second_task) = replica(&broker, &db_url, &root).await;
        let key = first.with_site_and_key().await;
        broker_becomes(&first, "connected").await;
        broker_becomes(&second, "connected").await;
        let mut agent = Agent::connect(&broker, &root, "main").await;
        agent.online().await;

        // Twenty messages through two dispatchers. The agent accepts every command but
        // the first message's; it never gets more copies of a message than the database
        // counts dispatches (two replicas never publish one dispatch twice; a slow machine
        // may reach the first backoff and dispatch again, which is a new dispatch).
        let mut ids = Vec::new();
        for i in 0..20 {
            let body = json!({"phone": "+33612345678", "content": format!("m{i}")});
            ids.push(send(if i % 2 == 0 { &first } else { &second }, &key, body).await);
        }
        let mut copies: std::collections::HashMap<Uuid, i32> = Default::default();
        while copies.len() < 20 {
            let command = agent.next(TopicKind::CommandSend).await;
            let id: Uuid = command["id"].as_str().expect("id").parse().expect("uuid");
            *copies.entry(id).or_default() += 1;
            if id != ids[0] {
                agent.status(id, MessageState::Accepted).await;
            }
        }
        for id in &ids[1..] {
            reaches(&first, *id, "accepted").await;
        }
        let dispatches = |id: Uuid| {
            let db = second.db.clone();
            async move {
                sqlx::query_scalar::<_, i32>("SELECT dispatches FROM messages WHERE id = $1")
                    .bind(id)
                    .fetch_one(&db)
                    .await
                    .expect("dispatches")
            }
        };
        for id in &ids {
            let published = dispatches(*id).await;
            assert!(
                (1..=published).contains(&copies[id]),
                "{:?}: {} copies of {published} dispatches",
                broker.kind,
                copies[id]
            );
        }
        let before = dispatches(ids[0]).await;

        // The agent never accepted m0: one replica dies, the other publishes it again.
        first_task.abort();
        sqlx::query("UPDATE messages SET next_dispatch_at = now() WHERE id = $1")
            .bind(ids[0])
            .execute(&second.db)
            .await
            .expect("due");
        // A copy of an earlier dispatch may still be on its way (claimed before `before`
        // was read): skip commands until one comes from a dispatch made after the abort.
        loop {
            let again = agent.next(TopicKind::CommandSend).await;
            if again["id"].as_str() == Some(ids[0].to_string().as_str())
                && dispatches(ids[0]).await > before
            {
                break;
            }
        }
        let event = agent.status(ids[0], MessageState::Accepted).await;
        agent.confirmed(event).await;
        reaches(&second, ids[0], "accepted").await;
        broker.stop().await;
    }
}

#[tokio::test]
async fn a_cancel_reaches_the_agent_and_its_answer_settles_the_message() {
    for broker in Broker::all().await {
        let (app, key, mut agent) = setup(&broker).await;
        agent.online().await;
        let id = send(
            &app,
            &key,
            json!({"phone": "+33612345678", "content": "oops"}),
        )
        .await;
        agent.next(TopicKind::CommandSend).await;
        let event = agent.status(id, MessageState::Accepted).await;
        agent.confirmed(event).await;

        let (status, body) = status_json(app.cancel(&key, id).await).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (202, Some("accepted")),
            "{body}"
        );
        let cancel = agent.next(TopicKind::CommandCancel).await;
        assert_eq!(cancel["id"].as_str(), Some(id.to_string().as_str()));
        let event = agent.status(id, MessageState::Canceled).await;
        agent.confirmed(event).await;
        reaches(&app, id, "canceled").await;
        broker.stop().await;
    }
}

/// A replica needs only PostgreSQL to take requests: with the broker away it stays ready,
/// accepts sends, which wait `queued`, and publishes them once the broker is back; a
/// broker restart does not take it out of service either.
#[tokio::test]
async fn without_the_broker_a_replica_stays_ready_and_sends_wait_queued() {
    // A port with nothing behind it yet.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let root = unique_root();
    let db_url = create_database().await;
    let absent = Broker {
        url: format!("mqtt://{addr}"),
        kind: Kind::Ours,
        ours: None,
    };
    let (app, _task) = replica(&absent, &db_url, &root).await;
    let key = app.with_site_and_key().await;
    app.set_presence("main", "online").await;
    broker_becomes(&app, "disconnected").await;
    let id = send(
        &app,
        &key,
        json!({"phone": "+33612345678", "content": "later"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(status_of(&app, id).await, "queued", "nothing to publish to");

    let broker = Broker::ours(Some(addr)).await;
    broker_becomes(&app, "connected").await;
    let mut agent = Agent::connect(&broker, &root, "main").await;
    agent.online().await;
    let command = agent.next(TopicKind::CommandSend).await;
    assert_eq!(command["id"].as_str(), Some(id.to_string().as_str()));
    agent.deliver(id, MessageState::Accepted).await;

    // The broker restarts: the replica stays ready and keeps accepting; the message sent
    // meanwhile goes out when the link is back.
    broker.stop().await;
    broker_becomes(&app, "disconnected").await;
    let during = send(
        &app,
        &key,
        json!({"phone": "+33612345678", "content": "during the restart"}),
    )
    .await;
    assert_eq!(status_of(&app, during).await, "queued");
    let broker = Broker::ours(Some(addr)).await;
    broker_becomes(&app, "connected").await;
    // The agent reconnects by itself, as smsgw-agent does, and says it is online again.
    agent.resubscribed().await;
    agent.online().await;
    loop {
        let command = agent.next(TopicKind::CommandSend).await;
        if command["id"].as_str() == Some(during.to_string().as_str()) {
            break;
        }
    }
    agent.deliver(during, MessageState::Accepted).await;
    reaches(&app, during, "accepted").await;
    broker.stop().await;
}
