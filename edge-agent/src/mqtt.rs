//! The agent's MQTT side: one connection with a persistent session and manual acks.
//!
//! Commands are acknowledged to the broker only after the journal committed them, so a
//! crash before the commit makes the broker deliver them again. Events leave from the
//! journal's outbox and stay there until the API's `command/ack` names them; they are
//! published again on every reconnect and after `ack_timeout_ms`. On every ConnAck the
//! agent subscribes again (never trusting the broker to keep a session), publishes its
//! presence and its modems. The Last Will marks it offline with its session counter, so a
//! late Will of an older connection cannot mark a newer one offline.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use rumqttc::{
    AsyncClient, ClientError, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, Publish,
    QoS,
};
use smsgw_shared::{
    SiteId, TopicKind, Topics,
    wire::{self, ConnState, ModemsState, Presence, V1, WireMessage},
};
use time::OffsetDateTime;
use tokio::{
    sync::{Notify, watch},
    time::{sleep, timeout},
};
use tracing::{debug, error, info, warn};

use crate::{
    config::{Config, ConfigError, millis},
    journal::{Accepted, Journal},
    modem::Modem,
};

/// Events published per round of the outbox publisher.
const PUBLISH_BATCH: u32 = 200;
/// Capacity of rumqttc's request channel, shared by our publishes and command acks.
pub(crate) const REQUEST_CHANNEL: usize = 1024;
/// Most of our publishes waiting in that channel at once. The rest of the channel stays
/// free for command acks: a channel filled by re-published events would refuse them, the
/// broker's window towards the agent would fill, and no command would arrive any more.
const PUBLISH_BUDGET: usize = REQUEST_CHANNEL / 4;

/// What the MQTT tasks share with the rest of the agent.
pub struct Link {
    /// The journal.
    pub journal: Journal,
    /// The modems, to wake their senders and read their health.
    pub modems: Vec<Arc<Modem>>,
    /// Wakes the outbox publisher.
    pub events: Arc<Notify>,
    /// Wakes the `state/modems` publisher.
    pub health_changed: Arc<Notify>,
    /// This site.
    pub site: SiteId,
    /// Topic names.
    pub topics: Topics,
    /// Connected to the broker right now.
    pub connected: AtomicBool,
    /// Re-publish unacknowledged events after this long.
    pub ack_timeout: Duration,
    /// Publish `state/modems` at least this often.
    pub health_interval: Duration,
    /// Reconnect delays.
    pub reconnect: (Duration, Duration),
    /// This connection's session counter.
    pub session: u64,
    /// Our publishes handed to rumqttc and not yet taken from its channel (at most
    /// [`PUBLISH_BUDGET`]; an estimate that can only err low, see [`Link::sent_one`]).
    pub queued: AtomicUsize,
}

fn presence(state: Presence, session: u64) -> Vec<u8> {
    wire::encode(&ConnState {
        v: V1,
        state,
        session,
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        at: OffsetDateTime::now_utc(),
    })
}

/// The MQTT options of the agent: persistent session, manual acks, Last Will.
pub fn options(config: &Config, session: u64) -> Result<MqttOptions, ConfigError> {
    let broker = config.broker()?;
    let client_id = config.client_id();
    let mut options = MqttOptions::new(client_id, broker.host.clone(), broker.port);
    options
        .set_keep_alive(Duration::from_secs(config.mqtt.keep_alive_secs.max(5)))
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_max_packet_size(256 * 1024, 256 * 1024)
        .set_request_channel_capacity(REQUEST_CHANNEL)
        .set_inflight(100);
    if !config.mqtt.password.is_empty() {
        let username = if config.mqtt.username.is_empty() {
            config.site.to_string()
        } else {
            config.mqtt.username.clone()
        };
        options.set_credentials(username, config.mqtt.password.clone());
    }
    let topics =
        Topics::new(&config.mqtt.topic_root).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    options.set_last_will(LastWill::new(
        topics.topic(&config.site, TopicKind::StateConn),
        presence(Presence::Offline, session),
        QoS::AtLeastOnce,
        true,
    ));
    let ca_file = (!config.mqtt.ca_file.is_empty()).then(|| Path::new(&config.mqtt.ca_file));
    options.set_transport(
        smsgw_shared::mqtt::transport(&broker, ca_file)
            .map_err(|e| ConfigError::Invalid(format!("mqtt: {e}")))?,
    );
    Ok(options)
}

impl Link {
    /// Drives the connection until `shutdown`; then publishes `offline` and disconnects.
    pub async fn run(
        self: Arc<Self>,
        client: AsyncClient,
        mut eventloop: EventLoop,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let publisher = tokio::spawn(self.clone().publish_loop(client.clone(), shutdown.clone()));
        let mut delays = self.reconnect_delays();
        loop {
            tokio::select! {
                event = eventloop.poll() => match event {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        info!(session_present = ack.session_present, "connected to the broker");
                        if !ack.session_present {
                            // rumqttc dropped what it held for the old session.
                            self.queued.store(0, Ordering::SeqCst);
                        }
                        delays = self.reconnect_delays();
                        self.on_connect(&client);
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        self.on_publish(&client, &publish).await;
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(_))) => self.sent_one(),
                    Ok(_) => {}
                    Err(e) => {
                        if self.connected.swap(false, Ordering::SeqCst) {
                            warn!(error = %e, "lost the broker");
                        } else {
                            debug!(error = %e, "broker unreachable");
                        }
                        metrics::gauge!("smsgw_agent_mqtt_connected").set(0.0);
                        // rumqttc reconnects on the next poll without waiting of its own.
                        let delay = delays.next().unwrap_or(self.reconnect.1);
                        tokio::select! {
                            _ = sleep(delay) => {}
                            _ = shutdown.changed() => {}
                        }
                    }
                },
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
        }
        if self.connected.load(Ordering::SeqCst) {
            let topic = self.topics.topic(&self.site, TopicKind::StateConn);
            let _ = client.try_publish(
                topic,
                QoS::AtLeastOnce,
                true,
                presence(Presence::Offline, self.session),
            );
            let _ = client.try_disconnect();
            // Let the event loop flush the offline state and the disconnect.
            let _ = timeout(Duration::from_secs(2), async {
                while let Ok(event) = eventloop.poll().await {
                    if matches!(event, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                        break;
                    }
                }
            })
            .await;
        }
        publisher.abort();
        info!("MQTT stopped");
    }

    fn reconnect_delays(&self) -> impl Iterator<Item = Duration> + use<> {
        smsgw_shared::mqtt::reconnect_delays(self.reconnect.0, self.reconnect.1)
    }

    fn on_connect(&self, client: &AsyncClient) {
        let commands = self.topics.agent_commands(&self.site);
        if let Err(e) = client.try_subscribe(commands.clone(), QoS::AtLeastOnce) {
            error!(error = %e, "cannot subscribe to {commands}");
        }
        let topic = self.topics.topic(&self.site, TopicKind::StateConn);
        if let Err(e) = self.publish(
            client,
            topic,
            true,
            presence(Presence::Online, self.session),
        ) {
            warn!(error = %e, "cannot publish presence");
        }
        self.connected.store(true, Ordering::SeqCst);
        metrics::gauge!("smsgw_agent_mqtt_connected").set(1.0);
        // Everything unconfirmed goes out again on a new connection, and the health too.
        self.events.notify_one();
        self.health_changed.notify_one();
    }

    /// Handles one incoming command; acks it once it is journalled (or refused).
    async fn on_publish(&self, client: &AsyncClient, publish: &Publish) {
        let kind = match self.topics.parse(&publish.topic) {
            Ok((site, kind)) if site == self.site => kind,
            Ok(_) | Err(_) => {
                warn!(topic = %publish.topic, "message on a topic not ours");
                metrics::counter!("smsgw_agent_mqtt_invalid_total", "kind" => "topic", "reason" => "foreign_topic").increment(1);
                let _ = client.try_ack(publish);
                return;
            }
        };
        let message = match WireMessage::decode(kind, &publish.payload) {
            Ok(message) => message,
            Err(e) => {
                warn!(topic = %publish.topic, error = %e, "malformed payload acknowledged and dropped");
                metrics::counter!("smsgw_agent_mqtt_invalid_total", "kind" => kind.suffix(), "reason" => e.reason()).increment(1);
                let _ = client.try_ack(publish);
                return;
            }
        };
        let now = OffsetDateTime::now_utc();
        let result = match &message {
            WireMessage::Send(command) => self.journal.accept(command, now).await.map(|outcome| {
                let label = match outcome {
                    Accepted::New => "new",
                    Accepted::Duplicate(_) => "duplicate",
                };
                metrics::counter!("smsgw_agent_commands_total", "result" => label).increment(1);
                debug!(id = %command.id, ?outcome, "send command");
                for modem in &self.modems {
                    if command.modem.as_ref().is_none_or(|m| m == &modem.id) {
                        modem.wake.notify_one();
                    }
                }
            }),
            WireMessage::Cancel(cancel) => {
                self.journal.cancel(cancel.id, now).await.map(|outcome| {
                    info!(id = %cancel.id, ?outcome, "cancel command");
                })
            }
            WireMessage::Ack(ack) => self.journal.ack(&ack.event_ids).await.map(|n| {
                debug!(acked = n, "events confirmed by the API");
            }),
            other => {
                debug!(kind = %other.kind(), "ignoring a payload the agent does not consume");
                Ok(())
            }
        };
        match result {
            Ok(()) => {
                self.events.notify_one();
                if let Err(e) = client.try_ack(publish) {
                    warn!(error = %e, "could not queue the ack; the broker will deliver again");
                }
            }
            // Not acknowledged: the broker delivers it again on the next session.
            Err(e) => {
                error!(topic = %publish.topic, error = %e, "journal failed; command not acknowledged")
            }
        }
    }

    /// Publishes outbox events and modem health while connected.
    async fn publish_loop(
        self: Arc<Self>,
        client: AsyncClient,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut last_health = tokio::time::Instant::now() - self.health_interval;
        let mut was_connected = false;
        let mut last_gauge = tokio::time::Instant::now() - Duration::from_secs(5);
        loop {
            let connected = self.connected.load(Ordering::SeqCst);
            let mut more = false;
            if connected {
                if !was_connected {
                    // A new connection: everything unconfirmed goes out again now.
                    if let Err(e) = self.journal.reset_published().await {
                        warn!(error = %e, "cannot reset the outbox");
                    }
                }
                match self.publish_due(&client).await {
                    Ok(full) => more = full,
                    Err(e) => warn!(error = %e, "outbox publish failed"),
                }
                if last_health.elapsed() >= self.health_interval {
                    self.publish_health(&client).await;
                    last_health = tokio::time::Instant::now();
                }
            }
            was_connected = connected;
            // Counting the outbox scans it: often enough for a gauge, not on every event.
            if last_gauge.elapsed() >= Duration::from_secs(5) {
                last_gauge = tokio::time::Instant::now();
                if let Ok(n) = self.journal.outbox_len().await {
                    metrics::gauge!("smsgw_agent_outbox_events").set(n as f64);
                }
            }
            if more {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                _ = self.events.notified() => {}
                _ = self.health_changed.notified() => {
                    if self.connected.load(Ordering::SeqCst) {
                        self.publish_health(&client).await;
                        last_health = tokio::time::Instant::now();
                    }
                }
                _ = sleep(millis(500).min(self.ack_timeout)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Publishes events due; returns whether a full batch went out (there may be more).
    async fn publish_due(
        &self,
        client: &AsyncClient,
    ) -> Result<bool, crate::journal::JournalError> {
        let now = OffsetDateTime::now_utc();
        let due = self
            .journal
            .due_events(now, self.ack_timeout, PUBLISH_BATCH)
            .await?;
        let room = PUBLISH_BUDGET.saturating_sub(self.queued.load(Ordering::SeqCst));
        let mut published = Vec::with_capacity(due.len().min(room));
        for event in due.iter().take(room) {
            let topic = self.topics.topic(&self.site, event.kind);
            match self.publish(client, topic, false, event.payload.clone()) {
                Ok(()) => published.push(event.event_id),
                Err(e) => {
                    debug!(error = %e, "MQTT queue full; publishing the rest later");
                    break;
                }
            }
        }
        if published.len() < due.len() {
            debug!(
                left = due.len() - published.len(),
                "publish budget spent; the rest goes out as the queue drains"
            );
        }
        self.journal.mark_published(&published, now).await?;
        Ok(due.len() == PUBLISH_BATCH as usize && published.len() == due.len())
    }

    /// Publishes `state/modems` (retained).
    async fn publish_health(&self, client: &AsyncClient) {
        let payload = wire::encode(&self.modems_state().await);
        let topic = self.topics.topic(&self.site, TopicKind::StateModems);
        if let Err(e) = self.publish(client, topic, true, payload) {
            debug!(error = %e, "could not publish modem health");
        }
    }

    /// Hands one QoS 1 publish to rumqttc and counts it against [`PUBLISH_BUDGET`].
    fn publish(
        &self,
        client: &AsyncClient,
        topic: String,
        retain: bool,
        payload: Vec<u8>,
    ) -> Result<(), ClientError> {
        client.try_publish(topic, QoS::AtLeastOnce, retain, payload)?;
        self.queued.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// rumqttc took a publish from its channel. Publishes it sends again after a reconnect
    /// are counted a second time, so the count can only err low, never stall the outbox;
    /// once half the budget is free the outbox publisher is woken.
    fn sent_one(&self) {
        let before = self
            .queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_sub(1))
            })
            .unwrap_or(0);
        if before == PUBLISH_BUDGET / 2 + 1 {
            self.events.notify_one();
        }
    }

    /// The health of every modem with its breaker state and queue.
    pub async fn modems_state(&self) -> ModemsState {
        let depths = self.journal.queue_depths().await.unwrap_or_default();
        let shared = depths.get(&None).copied().unwrap_or(0);
        let now = tokio::time::Instant::now();
        let mut modems = Vec::with_capacity(self.modems.len());
        let mut healthy = 0u32;
        for modem in &self.modems {
            let state = modem.state.lock().await;
            if state.breaker.state(now) == smsgw_shared::wire::Circuit::Closed {
                healthy += 1;
            }
        }
        for modem in &self.modems {
            let state = modem.state.lock().await;
            let mut health = state.health.clone();
            health.circuit = state.breaker.state(now);
            let own = depths.get(&Some(modem.id.clone())).copied().unwrap_or(0);
            let share = if health.circuit == smsgw_shared::wire::Circuit::Closed && healthy > 0 {
                shared.div_ceil(healthy)
            } else {
                0
            };
            health.queue = own + share;
            modems.push(health);
        }
        ModemsState {
            v: V1,
            session: self.session,
            at: OffsetDateTime::now_utc(),
            modems,
        }
    }
}
