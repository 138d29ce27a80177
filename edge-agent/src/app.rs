//! Starting and stopping the whole agent: journal, modems, senders, pollers, MQTT and the
//! metrics endpoint, wired together.
//!
//! `Agent::start` returns once every task runs, so tests drive a real agent in-process;
//! `smsgw-agent run` does the same and waits for a signal.

use std::{net::SocketAddr, sync::Arc};

use smsgw_shared::Topics;
use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
};
use tracing::info;

use crate::{
    config::{Config, ConfigError, millis},
    journal::{Journal, JournalError},
    modem::Modem,
    mqtt::{self, Link},
    poller::Poller,
    sender::Sender,
};

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The journal could not be opened.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A modem's client could not be built.
    #[error("modem {0}: {1}")]
    Modem(String, hilink::Error),
    /// The state directory or the metrics port could not be used.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A running agent.
pub struct Agent {
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    link: Arc<Link>,
    /// Where `/metrics` listens, when enabled.
    pub metrics_addr: Option<SocketAddr>,
}

impl Agent {
    /// Opens the journal and starts every task.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        // rumqttc's TLS uses the process-wide rustls provider, and the build links two.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        std::fs::create_dir_all(&config.state_dir)?;
        let journal = Journal::open(&config.state_dir.join("journal.db")).await?;
        let session = journal.next_session().await?;
        let (shutdown, watch) = watch::channel(false);
        let events = Arc::new(Notify::new());
        let health_changed = Arc::new(Notify::new());
        let mut modems = Vec::new();
        for modem_config in &config.modems {
            let modem = Modem::new(modem_config, &config.timing)
                .map_err(|e| StartError::Modem(modem_config.id.to_string(), e))?;
            modems.push(modem);
        }
        let mut tasks = Vec::new();
        for modem in &modems {
            let sender = Sender::new(
                modem.clone(),
                journal.clone(),
                config.timing.clone(),
                events.clone(),
            );
            tasks.push(tokio::spawn(sender.run(watch.clone())));
            let poller = Poller::new(
                modem.clone(),
                journal.clone(),
                config.timing.clone(),
                events.clone(),
                health_changed.clone(),
            );
            tasks.push(tokio::spawn(poller.run(watch.clone())));
        }
        let topics = Topics::new(&config.mqtt.topic_root)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let link = Arc::new(Link {
            journal: journal.clone(),
            modems,
            events,
            health_changed,
            site: config.site.clone(),
            topics,
            connected: false.into(),
            ack_timeout: millis(config.mqtt.ack_timeout_ms),
            health_interval: millis(config.timing.health_interval_ms),
            reconnect: (
                millis(config.mqtt.reconnect_min_ms.max(1)),
                millis(
                    config
                        .mqtt
                        .reconnect_max_ms
                        .max(config.mqtt.reconnect_min_ms.max(1)),
                ),
            ),
            session,
            queued: 0.into(),
        });
        let (client, eventloop) =
            rumqttc::AsyncClient::new(mqtt::options(&config, session)?, mqtt::REQUEST_CHANNEL);
        tasks.push(tokio::spawn(link.clone().run(
            client,
            eventloop,
            watch.clone(),
        )));
        let metrics_addr = match config.metrics_addr()? {
            Some(addr) => Some(crate::metrics::serve(addr, watch.clone()).await?),
            None => None,
        };
        info!(site = %config.site, session, modems = config.modems.len(), "agent started");
        Ok(Self {
            shutdown,
            tasks,
            link,
            metrics_addr,
        })
    }

    /// Whether the agent is connected to the broker.
    pub fn connected(&self) -> bool {
        self.link
            .connected
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The journal (for `check` and tests).
    pub fn journal(&self) -> &Journal {
        &self.link.journal
    }

    /// Stops every task: sends in progress finish, the agent publishes `offline`, the
    /// journal is closed.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.link.journal.close().await;
        info!("agent stopped");
    }
}
