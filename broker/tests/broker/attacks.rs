//! A branch attacks the others with its own, real credential: it subscribes to `#`, to
//! every site's commands, to another site's commands, to the API's shared group and to
//! `$SYS`; it publishes another site's commands, status, inbound and presence (retained
//! too) and sets a Will on another site's presence. Each attempt must come to nothing, and
//! the legitimate paths must keep working. [`attacks`] is run against smsgw-broker on its
//! MQTT 3.1.1, MQTT 5 and TLS listeners here, and against Mosquitto with the shipped
//! configuration in `shipped_mosquitto`. smsgw-broker refuses visibly (SUBACK failures,
//! CONNACK codes, a closed connection); Mosquitto grants and then drops silently, so what
//! counts for both is what reaches whom.

use std::collections::HashMap;

use rumqttc::{
    ConnectReturnCode, ConnectionError, LastWill, MqttOptions, QoS, SubscribeReasonCode, Transport,
};
use smsgw_broker::{BrokerHandle, TopicRoot};
use smsgw_shared::{
    SiteId,
    topic::{TopicKind, Topics},
};

use crate::{
    helpers::{
        Outcome, PATIENCE, QUIET, TestClient, http_get, init_tracing, secret, token, unique,
    },
    tls::{install_crypto_provider, make_pki, tls_config},
};

/// What a forged message carries: never to be seen by anyone.
pub const FORGED: &[u8] =
    br#"{"v":1,"forged":true,"state":"offline","session":9223372036854775807}"#;

/// Where clients of one kind connect.
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// The CA of a TLS listener.
    pub tls_ca: Option<Vec<u8>>,
}

/// A broker under attack.
pub struct Deployment {
    pub name: &'static str,
    /// Whether refusals are visible (smsgw-broker) or silent (Mosquitto).
    pub strict: bool,
    /// Where the branch agents connect.
    pub agents: Endpoint,
    /// Where the API replicas connect.
    pub api: Endpoint,
    /// The API's user name and password (Mosquitto); `None`: a token per client id.
    pub api_login: Option<(String, String)>,
    /// The credential of each site, where the broker knows them (Mosquitto's password
    /// file); sites not listed get a credential made on the spot.
    pub credentials: HashMap<String, String>,
}

impl Deployment {
    /// smsgw-broker: agents at `agents`, the API at `api`, credentials made on the spot.
    pub fn smsgw_broker(name: &'static str, agents: Endpoint, api: Endpoint) -> Self {
        Self {
            name,
            strict: true,
            agents,
            api,
            api_login: None,
            credentials: HashMap::new(),
        }
    }

    /// The agent of `site` with its credential, user name = site id (the agent's default).
    pub fn agent(&self, site: &str) -> MqttOptions {
        let client_id = format!("agent-{site}");
        let mut options = options(&self.agents, &client_id);
        let credential = match self.credentials.get(site) {
            Some(credential) => credential.clone(),
            None => token(&client_id),
        };
        options.set_credentials(site, credential);
        options
    }

    /// A new API replica.
    pub fn api(&self) -> MqttOptions {
        let client_id = unique("api-");
        let mut options = options(&self.api, &client_id);
        match &self.api_login {
            Some((user, password)) => options.set_credentials(user, password),
            None => options.set_credentials(&client_id, token(&client_id)),
        };
        options
    }
}

fn options(endpoint: &Endpoint, client_id: &str) -> MqttOptions {
    let mut options = MqttOptions::new(client_id, &endpoint.host, endpoint.port);
    options.set_keep_alive(std::time::Duration::from_secs(5));
    if let Some(ca) = &endpoint.tls_ca {
        options.set_transport(Transport::tls(ca.clone(), None, None));
    }
    options
}

fn site(id: &str) -> SiteId {
    id.parse().expect("a valid site id")
}

/// Everything `client` receives within [`QUIET`].
pub async fn drain(client: &mut TestClient) -> Vec<rumqttc::Publish> {
    let mut received = Vec::new();
    while let Some(p) = client.next_publish_within(QUIET).await {
        received.push(p);
    }
    received
}

/// The next message on `topic`, skipping others (retained states of other tests).
pub async fn next_on(client: &mut TestClient, topic: &str) -> rumqttc::Publish {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.next_publish_within(left).await {
            Some(p) if p.topic == topic => return p,
            Some(_) => {}
            None => panic!("nothing arrived on {topic}"),
        }
    }
}

/// The filters through which a branch would read what is not its own (`other` is the site
/// it spies on).
pub fn snooping(topics: &Topics, other: &SiteId) -> Vec<String> {
    let root = topics.root();
    vec![
        "#".to_owned(),
        "+/#".to_owned(),
        format!("{root}/#"),
        topics.all_sites(TopicKind::CommandSend),
        topics.agent_commands(other),
        topics.api_events(),
        format!("{root}/+/event/#"),
        topics.api_states(),
        "$SYS/#".to_owned(),
    ]
}

/// What a branch would forge for another (`other`): each of its topics, its presence and
/// modem state retained, and the revocation list; with the retain flag.
pub fn forgeries(topics: &Topics, other: &SiteId) -> Vec<(String, bool)> {
    let mut forged: Vec<(String, bool)> = TopicKind::ALL
        .iter()
        .map(|kind| (topics.topic(other, *kind), false))
        .collect();
    forged.push((topics.topic(other, TopicKind::StateConn), true));
    forged.push((topics.topic(other, TopicKind::StateModems), true));
    forged.push((topics.revocations(), true));
    forged
}

/// `from` publishes `payload` on `topic` and `to` receives it: a legitimate path works.
async fn relayed(from: &mut TestClient, to: &mut TestClient, topic: &str, payload: &[u8]) {
    from.publish(topic, payload, false).await;
    assert_eq!(
        next_on(to, topic).await.payload.as_ref(),
        payload,
        "{topic}"
    );
}

/// The attacks of site `a` on site `b`, and the legitimate paths beside them.
pub async fn attacks(d: &Deployment, a: &str, b: &str) {
    let topics = Topics::default();
    let (site_a, site_b) = (site(a), site(b));
    let b_presence = topics.topic(&site_b, TopicKind::StateConn);
    let real_presence = br#"{"v":1,"state":"online","session":7}"#;

    // B's agent, with its commands and its real presence; an API replica.
    let mut victim = TestClient::connected(d.agent(b)).await;
    victim.subscribe(&topics.agent_commands(&site_b)).await;
    victim.publish(&b_presence, real_presence, true).await;
    let mut api = TestClient::connected(d.api()).await;
    api.subscribe(&topics.api_events()).await;
    api.subscribe(&topics.api_states()).await;
    assert_eq!(
        next_on(&mut api, &b_presence).await.payload.as_ref(),
        real_presence
    );

    // A listens wherever it can.
    let mut spy = TestClient::connected(d.agent(a)).await;
    for filter in snooping(&topics, &site_b) {
        let codes = spy.subscribe_codes(&[&filter]).await;
        if d.strict {
            assert_eq!(
                codes,
                [SubscribeReasonCode::Failure],
                "{}: {filter}",
                d.name
            );
        }
    }
    // The legitimate traffic A would like to read: a command for B, B's status.
    let b_send = topics.topic(&site_b, TopicKind::CommandSend);
    relayed(&mut api, &mut victim, &b_send, b"command for b").await;
    let b_status = topics.topic(&site_b, TopicKind::EventStatus);
    relayed(&mut victim, &mut api, &b_status, b"status of b").await;
    let seen = drain(&mut spy).await;
    assert!(
        seen.is_empty(),
        "{}: A read {:?}",
        d.name,
        seen.iter().map(|p| &p.topic).collect::<Vec<_>>()
    );
    spy.disconnect().await;

    // A forges B's commands, events and presence, and the revocation list.
    for (topic, retain) in &forgeries(&topics, &site_b) {
        // smsgw-broker ends a 3.1.1 connection at its first refused publish.
        let mut forger = TestClient::connected(d.agent(a)).await;
        let outcome = forger.publish_outcome(topic, FORGED, *retain).await;
        if d.strict {
            assert_eq!(outcome, Outcome::Closed, "{}: {topic}", d.name);
        }
        forger.kill();
    }
    // A Will on B's presence.
    let mut with_will = d.agent(a);
    with_will.set_last_will(LastWill::new(
        &b_presence,
        FORGED.to_vec(),
        QoS::AtLeastOnce,
        true,
    ));
    match TestClient::connect(with_will).await {
        Err(ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized)) if d.strict => {}
        // Mosquitto drops the Will when it would publish it.
        Ok(client) if !d.strict => client.kill(),
        other => panic!("{}: a Will on B's presence: {:?}", d.name, other.err()),
    }
    // Nothing forged reached B or the API, and B's presence is B's own.
    let to_b = drain(&mut victim).await;
    assert!(to_b.is_empty(), "{}: B received {to_b:?}", d.name);
    let to_api = drain(&mut api).await;
    assert!(
        to_api.iter().all(|p| p.payload.as_ref() != FORGED),
        "{}: the API received {to_api:?}",
        d.name
    );
    let mut late = TestClient::connected(d.api()).await;
    late.subscribe(&b_presence).await;
    let presence = next_on(&mut late, &b_presence).await;
    assert_eq!(presence.payload.as_ref(), real_presence, "{}", d.name);
    late.disconnect().await;

    // A's own paths still work: its commands, its events through the API's share.
    let mut agent_a = TestClient::connected(d.agent(a)).await;
    agent_a.subscribe(&topics.agent_commands(&site_a)).await;
    let a_ack = topics.topic(&site_a, TopicKind::CommandAck);
    relayed(&mut api, &mut agent_a, &a_ack, b"ack for a").await;
    let a_inbound = topics.topic(&site_a, TopicKind::EventInbound);
    relayed(&mut agent_a, &mut api, &a_inbound, b"inbound of a").await;

    victim.publish(&b_presence, b"", true).await;
    for client in [victim, api, agent_a] {
        client.disconnect().await;
    }
}

/// smsgw-broker with the production root, a plain 3.1.1, an MQTT 5 and a TLS listener.
pub async fn broker_with_tls(dir: &std::path::Path) -> (BrokerHandle, Vec<u8>) {
    init_tracing();
    install_crypto_provider();
    let ca = make_pki(dir);
    let mut config = tls_config(dir);
    config.topic_root = TopicRoot::default();
    let broker = smsgw_broker::start(config, &secret())
        .await
        .expect("the broker starts");
    (broker, ca)
}

pub fn endpoint(addr: std::net::SocketAddr, tls_ca: Option<Vec<u8>>) -> Endpoint {
    Endpoint {
        host: addr.ip().to_string(),
        port: addr.port(),
        tls_ca,
    }
}

#[tokio::test]
async fn a_branch_cannot_read_forge_or_lock_out_another_on_smsgw_broker() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (broker, ca) = broker_with_tls(dir.path()).await;
    let plain = endpoint(broker.mqtt_addr.expect("plain listener"), None);
    let tls = endpoint(broker.tls_addr.expect("TLS listener"), Some(ca));
    for (name, agents) in [
        ("smsgw-broker", plain.clone()),
        ("smsgw-broker over TLS", tls),
    ] {
        let deployment = Deployment::smsgw_broker(name, agents, plain.clone());
        attacks(&deployment, &unique("a"), &unique("b")).await;
    }

    // Some filters of a SUBSCRIBE refused, the others granted, in their places.
    let d = Deployment::smsgw_broker("smsgw-broker", plain.clone(), plain);
    let a = unique("a");
    let own = format!("smsgw/{a}/command/+");
    let mut agent = TestClient::connected(d.agent(&a)).await;
    let codes = agent
        .subscribe_codes(&["#", &own, "smsgw/+/command/send"])
        .await;
    assert_eq!(
        codes,
        [
            SubscribeReasonCode::Failure,
            SubscribeReasonCode::Success(QoS::AtLeastOnce),
            SubscribeReasonCode::Failure
        ]
    );
    let mut api = TestClient::connected(d.api()).await;
    api.publish(&format!("smsgw/{a}/command/send"), b"mine", false)
        .await;
    assert_eq!(agent.next_publish().await.payload.as_ref(), b"mine");
    api.disconnect().await;
    // Its own events are never retained (each is delivered once, through the API's share).
    let own_status = format!("smsgw/{a}/event/status");
    let outcome = agent.publish_outcome(&own_status, b"kept?", true).await;
    assert_eq!(outcome, Outcome::Closed);

    // Every refusal was counted, by reason.
    let metrics = http_get(broker.metrics_addr.expect("metrics"), "/metrics").await;
    for reason in [
        "wildcard",
        "other_site",
        "share",
        "sys",
        "not_allowed",
        "retain",
    ] {
        let line = format!("smsgw_broker_refused_total{{reason=\"{reason}\"}}");
        assert!(metrics.contains(&line), "{line} missing from:\n{metrics}");
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn the_live_connections_are_registered_and_can_be_closed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (broker, _) = broker_with_tls(dir.path()).await;
    let plain = endpoint(broker.mqtt_addr.expect("plain listener"), None);
    let d = Deployment::smsgw_broker("smsgw-broker", plain.clone(), plain);
    let (a, b) = (unique("a"), unique("b"));
    let mut agent_a = TestClient::connected(d.agent(&a)).await;
    let agent_b = TestClient::connected(d.agent(&b)).await;
    let live = broker.connections().list();
    let a_id = format!("agent-{a}");
    let entry = live
        .iter()
        .find(|c| c.client_id == a_id)
        .expect("A is registered");
    assert_eq!(entry.claims.sub, a_id);
    assert_eq!(broker.connections().close_where(|c| c.client_id == a_id), 1);
    agent_a.closed().await;
    // B is untouched, and A's entry goes with its connection.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while broker
        .connections()
        .list()
        .iter()
        .any(|c| c.client_id == a_id)
    {
        assert!(tokio::time::Instant::now() < deadline, "A stays registered");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        broker
            .connections()
            .list()
            .iter()
            .any(|c| c.client_id == format!("agent-{b}"))
    );
    agent_b.disconnect().await;
    broker.shutdown().await;
}
