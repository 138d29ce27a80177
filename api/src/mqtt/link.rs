//! The API's broker connection: ingest of the agents' events and states, `command/ack` for
//! what was committed, and the [`dispatcher`](super::dispatcher) that publishes commands.
//!
//! Every replica connects with its own client id and a clean session: it holds nothing a
//! successor would need, because the database is the truth. Events come through the
//! shared subscription (`$share/smsgw-api/…`), so replicas split them; states (retained)
//! come to every replica. A publish is acknowledged to the broker after
//! [`ingest::handle`] returned for it and for every publish that arrived before it (acks
//! keep the arrival order, as MQTT requires), and its event id goes back to the agent in
//! `command/ack` only after the commit: an event the database did not take is
//! re-published by the agent after its ack timeout (DESIGN §2). On every ConnAck the subscriptions are made
//! again, never trusting the broker to keep them.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use smsgw_shared::{
    broker::BrokerUrl,
    credentials::{API_MQTT_USERNAME, API_PREFIX, MqttPrincipal},
    ids::{EventId, SiteId},
    topic::{TopicKind, Topics},
    wire::{self, AckCommand, V1},
};
use sqlx::PgPool;
use tokio::{
    sync::{Notify, Semaphore, mpsc, watch},
    task::JoinSet,
};

use super::{
    credentials::{CredentialError, issue_credential},
    dispatcher,
    ingest::{self, IngestError},
};
use crate::config::{MqttArgs, Secret};

/// Incoming publishes applied at once.
const INGEST_CONCURRENCY: usize = 16;
/// Event ids per `command/ack`.
const ACK_BATCH: usize = 500;
/// Validity of a token the API signs for itself; it is signed again on every reconnect.
const SELF_TOKEN_VALIDITY: time::Duration = time::Duration::hours(24);

/// Why the broker connection could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// A setting is unusable.
    #[error("{0}")]
    Config(String),
    /// The API could not sign its own broker token.
    #[error(transparent)]
    Credential(#[from] CredentialError),
}

/// The connection state the HTTP side reads (`/readyz`) and pokes (a new message wakes
/// the dispatcher at once instead of at its next poll).
#[derive(Debug, Default)]
pub struct BrokerStatus {
    connected: AtomicBool,
    wake: Notify,
}

impl BrokerStatus {
    /// Connected to the broker right now.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Asks the dispatcher to look for due work now.
    pub fn wake_dispatcher(&self) {
        self.wake.notify_one();
    }

    pub(super) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// `/metrics` reads it at each scrape (`smsgw_mqtt_connected`).
    fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::SeqCst);
    }
}

/// Everything the connection needs, resolved from the settings once.
#[derive(Debug, Clone)]
pub struct LinkSettings {
    /// The broker.
    pub url: BrokerUrl,
    /// Client id (`api-…`).
    pub client_id: String,
    /// User name and password, if any.
    pub credentials: Option<(String, Secret)>,
    /// Key to sign our own token with when no password is given.
    pub jwt_secret: Option<Secret>,
    /// CA of the broker's certificate.
    pub ca_file: Option<std::path::PathBuf>,
    /// Topic names.
    pub topics: Topics,
    /// Commands per site waiting for `accepted`.
    pub dispatch_window: u32,
    /// Reconnect delays.
    pub reconnect: (Duration, Duration),
}

impl LinkSettings {
    /// Reads the settings; `None` when no broker is configured.
    pub fn from_args(
        args: &MqttArgs,
        jwt_secret: Option<&Secret>,
    ) -> Result<Option<Self>, LinkError> {
        let Some(url) = args.mqtt_url.clone() else {
            return Ok(None);
        };
        let client_id = match &args.mqtt_client_id {
            Some(id) => id.clone(),
            None => {
                let suffix = uuid::Uuid::now_v7().simple().to_string();
                format!("{API_PREFIX}{}", &suffix[suffix.len() - 12..])
            }
        };
        let topics = Topics::new(&args.mqtt_topic_root)
            .map_err(|e| LinkError::Config(format!("SMSGW_MQTT_TOPIC_ROOT: {e}")))?;
        let credentials = args.mqtt_password.clone().map(|password| {
            let user = args
                .mqtt_username
                .clone()
                .unwrap_or_else(|| API_MQTT_USERNAME.to_owned());
            (user, password)
        });
        let jwt_secret = jwt_secret.filter(|s| !s.expose().is_empty()).cloned();
        if credentials.is_none() && jwt_secret.is_some() {
            // The token's subject is the client id: check it now, not at every connect.
            if MqttPrincipal::from_client_id(&client_id).is_none() {
                return Err(LinkError::Config(format!(
                    "SMSGW_MQTT_CLIENT_ID {client_id:?} must be api- and 1 to 64 letters, digits, - or _ to sign a broker token for it"
                )));
            }
        }
        Ok(Some(Self {
            url,
            client_id,
            credentials,
            jwt_secret,
            ca_file: args.mqtt_ca_file.clone(),
            topics,
            dispatch_window: args.dispatch_window,
            reconnect: (Duration::from_millis(200), Duration::from_secs(10)),
        }))
    }

    /// The user name and password for the next connection: the configured ones, else a
    /// token signed now, else none (a broker without authentication).
    fn login(&self) -> Result<Option<(String, String)>, LinkError> {
        if let Some((user, password)) = &self.credentials {
            return Ok(Some((user.clone(), password.expose().to_owned())));
        }
        let Some(secret) = &self.jwt_secret else {
            return Ok(None);
        };
        let principal = MqttPrincipal::from_client_id(&self.client_id)
            .ok_or_else(|| LinkError::Config(format!("client id {:?}", self.client_id)))?;
        let credential = issue_credential(
            secret.expose(),
            &principal,
            time::OffsetDateTime::now_utc(),
            SELF_TOKEN_VALIDITY,
        )?;
        Ok(Some((credential.client_id, credential.token)))
    }

    fn options(&self) -> Result<MqttOptions, LinkError> {
        let mut options = MqttOptions::new(&self.client_id, &self.url.host, self.url.port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_session(true)
            .set_manual_acks(true)
            .set_max_packet_size(256 * 1024, 256 * 1024)
            .set_request_channel_capacity(4096)
            .set_inflight(200);
        if let Some((user, password)) = self.login()? {
            options.set_credentials(user, password);
        }
        options.set_transport(
            smsgw_shared::mqtt::transport(&self.url, self.ca_file.as_deref())
                .map_err(|e| LinkError::Config(format!("SMSGW_MQTT: {e}")))?,
        );
        Ok(options)
    }
}

/// A running broker connection.
pub struct Link {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Link {
    /// Connects (in the background; a broker that is down is retried for ever) and starts
    /// ingest and the dispatcher.
    /// `status` is the one the HTTP side already holds.
    pub fn start(
        db: PgPool,
        settings: LinkSettings,
        status: Arc<BrokerStatus>,
    ) -> Result<Self, LinkError> {
        let options = settings.options()?;
        let (client, eventloop) = AsyncClient::new(options, 4096);
        status.set_connected(false);
        let (stop, stopped) = watch::channel(false);
        let settings = Arc::new(settings);
        let (acks, ack_queue) = mpsc::unbounded_channel();
        let mut tasks = JoinSet::new();
        tasks.spawn(
            Connection {
                db: db.clone(),
                client: client.clone(),
                settings: settings.clone(),
                status: status.clone(),
                acks,
            }
            .run(eventloop, stopped.clone()),
        );
        tasks.spawn(publish_acks(
            client.clone(),
            settings.topics.clone(),
            ack_queue,
        ));
        tasks.spawn(dispatcher::run(
            db,
            client,
            settings.topics.clone(),
            i64::from(settings.dispatch_window),
            status.clone(),
            stopped,
        ));
        tracing::info!(broker = %settings.url, client_id = %settings.client_id, "MQTT link started");
        Ok(Self { stop, tasks })
    }

    /// Disconnects and stops the tasks.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let drained = tokio::time::timeout(Duration::from_secs(3), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("MQTT tasks did not stop in time");
        }
        self.tasks.abort_all();
    }
}

/// The event loop and the ingest of incoming publishes.
struct Connection {
    db: PgPool,
    client: AsyncClient,
    settings: Arc<LinkSettings>,
    status: Arc<BrokerStatus>,
    acks: mpsc::UnboundedSender<(SiteId, EventId)>,
}

impl Connection {
    async fn run(self, mut eventloop: EventLoop, mut stop: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let permits = Arc::new(Semaphore::new(INGEST_CONCURRENCY));
        let mut delays = this.delays();
        let mut ingesting = JoinSet::new();
        // Publishes of this connection not yet acknowledged to the broker, in arrival
        // order, each with whether it has been applied: acks go out in that order (MQTT
        // 3.1.1 §4.6; rumqttd drops a client that acks out of order).
        let mut unacked: VecDeque<(Publish, Arc<AtomicBool>)> = VecDeque::new();
        loop {
            tokio::select! {
                event = eventloop.poll() => match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        tracing::info!(broker = %this.settings.url, "connected to the broker");
                        delays = this.delays();
                        this.subscribe();
                        this.status.set_connected(true);
                        this.status.wake_dispatcher();
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        // Waiting for a permit holds the loop: back-pressure on the broker.
                        let Ok(permit) = permits.clone().acquire_owned().await else { break };
                        let this = this.clone();
                        let applied = Arc::new(AtomicBool::new(false));
                        unacked.push_back((publish.clone(), applied.clone()));
                        ingesting.spawn(async move {
                            this.ingest(&publish).await;
                            applied.store(true, Ordering::SeqCst);
                            drop(permit);
                        });
                        while ingesting.try_join_next().is_some() {}
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if this.status.connected() {
                            tracing::warn!(error = %e, "lost the broker");
                        } else {
                            tracing::debug!(error = %e, "broker unreachable");
                        }
                        this.status.set_connected(false);
                        // Their acks belong to the lost connection: sent on the next one,
                        // they would be unsolicited (and rumqttd would drop us again).
                        unacked.clear();
                        // A token signed for this connection only: sign a fresh one.
                        match this.settings.login() {
                            Ok(Some((user, password))) => {
                                eventloop.mqtt_options.set_credentials(user, password);
                            }
                            Ok(None) => {}
                            Err(e) => tracing::error!(error = %e, "cannot sign a broker token"),
                        }
                        let delay = delays.next().unwrap_or(this.settings.reconnect.1);
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            _ = stop.changed() => {}
                        }
                    }
                },
                Some(_) = ingesting.join_next(), if !ingesting.is_empty() => {}
                _ = stop.changed() => {}
            }
            this.ack_applied(&mut unacked);
            if *stop.borrow() {
                break;
            }
        }
        // Let what is being applied finish, then leave cleanly.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while ingesting.join_next().await.is_some() {}
        })
        .await;
        this.ack_applied(&mut unacked);
        if this.status.connected() {
            let _ = this.client.try_disconnect();
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while let Ok(event) = eventloop.poll().await {
                    if matches!(event, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                        break;
                    }
                }
            })
            .await;
        }
        this.status.set_connected(false);
        tracing::info!("MQTT stopped");
    }

    fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        smsgw_shared::mqtt::reconnect_delays(self.settings.reconnect.0, self.settings.reconnect.1)
    }

    fn subscribe(&self) {
        let topics = &self.settings.topics;
        for filter in [topics.api_events(), topics.api_states()] {
            if let Err(e) = self.client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                tracing::error!(error = %e, "cannot subscribe to {filter}");
            }
        }
    }

    /// Acknowledges to the broker, in arrival order, the publishes applied so far.
    fn ack_applied(&self, unacked: &mut VecDeque<(Publish, Arc<AtomicBool>)>) {
        while let Some((publish, _)) =
            unacked.pop_front_if(|(_, applied)| applied.load(Ordering::SeqCst))
        {
            if let Err(e) = self.client.try_ack(&publish) {
                tracing::debug!(error = %e, "could not queue the broker ack");
            }
        }
    }

    /// Applies one publish and queues the event's `command/ack` once committed (the
    /// broker ack follows, in order, from [`Self::ack_applied`]).
    async fn ingest(&self, publish: &Publish) {
        match ingest::handle(
            &self.db,
            &self.settings.topics,
            &publish.topic,
            &publish.payload,
        )
        .await
        {
            Ok(ingested) => {
                tracing::debug!(site = %ingested.site, topic = %publish.topic, outcome = ingested.outcome, "ingested");
                if let Some(event) = ingested.ack {
                    let _ = self.acks.send((ingested.site, event));
                }
            }
            Err(IngestError::Database(e)) => {
                // Not confirmed to the agent: it publishes the event again.
                tracing::warn!(topic = %publish.topic, error = %e, "database error; the agent will publish again");
                metrics::counter!("smsgw_mqtt_ingest_failed_total").increment(1);
            }
            Err(e) => {
                let (kind, reason) = invalid_labels(&self.settings.topics, &publish.topic, &e);
                tracing::warn!(topic = %publish.topic, error = %e, "malformed MQTT message acknowledged and dropped");
                metrics::counter!("smsgw_mqtt_invalid_total", "kind" => kind, "reason" => reason)
                    .increment(1);
            }
        }
    }
}

/// Metric labels of a refused message: its topic kind (or `topic`) and why.
fn invalid_labels(
    topics: &Topics,
    topic: &str,
    error: &IngestError,
) -> (&'static str, &'static str) {
    let kind = topics
        .parse(topic)
        .map(|(_, k)| k.suffix())
        .unwrap_or("topic");
    let reason = match error {
        IngestError::Topic(_) => "foreign_topic",
        IngestError::Payload(e) => e.reason(),
        IngestError::NotConsumed(_) => "not_consumed",
        IngestError::Database(_) => "database",
    };
    (kind, reason)
}

/// Publishes `command/ack` for committed events: whatever has queued up since the last
/// one goes out together, one message per site.
async fn publish_acks(
    client: AsyncClient,
    topics: Topics,
    mut queue: mpsc::UnboundedReceiver<(SiteId, EventId)>,
) {
    while let Some(first) = queue.recv().await {
        let mut by_site: BTreeMap<SiteId, Vec<EventId>> = BTreeMap::new();
        by_site.entry(first.0).or_default().push(first.1);
        let mut taken = 1;
        while taken < ACK_BATCH {
            let Ok((site, event)) = queue.try_recv() else {
                break;
            };
            by_site.entry(site).or_default().push(event);
            taken += 1;
        }
        for (site, event_ids) in by_site {
            let payload = wire::encode(&AckCommand { v: V1, event_ids });
            let topic = topics.topic(&site, TopicKind::CommandAck);
            // Lost acks cost a re-publish by the agent and a duplicate we ignore.
            if let Err(e) = client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
            {
                tracing::debug!(error = %e, "could not publish command/ack");
            }
        }
    }
}
