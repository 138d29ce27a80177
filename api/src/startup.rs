//! Building and running the server: [`Application::build`] connects, migrates and binds
//! (port 0 in tests, so each test app gets its own port), [`Application::run_until_stopped`]
//! serves until SIGINT/SIGTERM and then drains the requests in flight.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use sqlx::{Connection, PgPool, postgres::PgPoolOptions};
use tokio::{net::TcpListener, sync::Semaphore};

use crate::{
    MIGRATOR,
    config::{Secret, ServeConfig},
    database::{self, PasswordWatch},
    domain::api_key::KeyPepper,
    http::{self, AppState},
    jobs,
    mqtt::link::{BrokerStatus, Link, LinkError, LinkSettings},
    secrets::{self, WeakSecret},
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A secret setting is weak (it names itself).
    #[error(transparent)]
    WeakSecret(#[from] WeakSecret),
    /// The database URL is unusable.
    #[error("DATABASE_URL: {0}")]
    Database(#[from] sqlx::Error),
    /// The database settings (URL, password file) are unusable.
    #[error(transparent)]
    DatabaseSettings(#[from] database::SettingsError),
    /// Migrating failed.
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The broker settings are unusable.
    #[error(transparent)]
    Mqtt(#[from] LinkError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The setting that holds the key of admin sessions.
pub const JWT_SECRET_VARIABLE: &str = "SMSGW_JWT_SECRET";

/// A bound, not yet serving, API server.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: axum::Router,
    db: PgPool,
    mqtt: Option<LinkSettings>,
    broker: Option<Arc<BrokerStatus>>,
    retention_days: u32,
    password_watch: Option<PasswordWatch>,
}

/// A pool for the configured database. It connects lazily, so a server whose database is
/// down still starts (with `--no-migrate`) and reports itself unready until it returns.
///
/// sqlx pings every connection it hands out by default: a round trip before every query of
/// every request. Only connections idle for a while are pinged here; a busy connection that
/// breaks fails its next query and is discarded.
///
/// With a password file (`SMSGW_DATABASE_PASSWORD_FILE`) its first connections use the
/// file's credentials; [`Application::run_until`] keeps following the file.
pub fn pool(config: &ServeConfig) -> Result<PgPool, StartupError> {
    let options = database::connect_options(&config.database)?;
    Ok(PgPoolOptions::new()
        .max_connections(config.database.db_max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options))
}

/// The key pepper and the admin session key (unset or empty: the admin API is off), each
/// refused when weak.
fn checked_secrets(config: &ServeConfig) -> Result<(KeyPepper, Option<Secret>), WeakSecret> {
    let pepper = KeyPepper::new(config.pepper.key_pepper.expose())?;
    let jwt_secret = config.jwt_secret.clone().filter(|s| !s.expose().is_empty());
    if let Some(secret) = &jwt_secret {
        secrets::check(JWT_SECRET_VARIABLE, secret.expose())?;
    }
    Ok((pepper, jwt_secret))
}

/// How long a pooled connection may sit idle before it is pinged on its way out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(10);

impl Application {
    /// Connects, migrates (unless `no_migrate`) and binds.
    pub async fn build(config: ServeConfig) -> Result<Self, StartupError> {
        // A weak secret stops the start before anything else happens.
        checked_secrets(&config)?;
        let db = pool(&config)?;
        if !config.no_migrate {
            MIGRATOR.run(&db).await?;
        }
        Self::build_with_pool(&config, db).await
    }

    /// Binds with an existing pool (no migration).
    pub async fn build_with_pool(config: &ServeConfig, db: PgPool) -> Result<Self, StartupError> {
        let (pepper, jwt_secret) = checked_secrets(config)?;
        let mqtt = LinkSettings::from_args(&config.mqtt, config.jwt_secret.as_ref())?;
        if mqtt.is_none() {
            tracing::warn!("SMSGW_MQTT_URL is not set: messages are stored but not sent");
        }
        let broker = mqtt.as_ref().map(|_| Arc::new(BrokerStatus::default()));
        let state = AppState {
            db: db.clone(),
            pepper: Arc::new(pepper),
            region: config.default_region,
            metrics: http::metrics::handle(),
            jwt_secret,
            default_rate_limit: config.default_rate_limit,
            admin_session: time::Duration::hours(i64::from(config.admin_session_hours.max(1))),
            broker: broker.clone(),
            accept: http::accept::Accepter::start(db.clone()),
            password_checks: Arc::new(Semaphore::new(config.login_concurrency.max(1) as usize)),
            trusted_proxy_hops: config.trusted_proxy_hops,
        };
        let listener = TcpListener::bind(config.http_addr)
            .await
            .map_err(|source| StartupError::Bind {
                addr: config.http_addr,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: config.http_addr,
            source,
        })?;
        Ok(Self {
            listener,
            local_addr,
            router: http::router(state),
            db,
            mqtt,
            broker,
            retention_days: config.retention_days,
            password_watch: PasswordWatch::of(&config.database)?,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// The database pool the server uses.
    pub fn db(&self) -> &PgPool {
        &self.db
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    ///
    /// Under systemd (`Type=notify`, `NOTIFY_SOCKET` set) it reports `READY=1` once it
    /// serves and `STOPPING=1` when the shutdown begins; elsewhere both are no-ops.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(addr = %self.local_addr, "serving the HTTP API");
        // The listener is bound since `build`: a connection made from now on is served.
        notify_systemd(sd_notify::NotifyState::Ready);
        let shutdown = async move {
            shutdown.await;
            notify_systemd(sd_notify::NotifyState::Stopping);
        };
        let housekeeping = tokio::spawn(jobs::housekeeping::run(
            self.db.clone(),
            jobs::housekeeping::INTERVAL,
        ));
        let retention = tokio::spawn(jobs::retention::run(
            self.db.clone(),
            self.retention_days,
            jobs::retention::INTERVAL,
        ));
        let password_watch = self
            .password_watch
            .map(|watch| tokio::spawn(watch.watch(self.db.clone())));
        let link = match (self.mqtt, self.broker) {
            (Some(settings), Some(status)) => Some(
                Link::start(self.db.clone(), settings, status).map_err(std::io::Error::other)?,
            ),
            _ => None,
        };
        // The peer address reaches handlers (failed logins are counted per client).
        let served = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        housekeeping.abort();
        retention.abort();
        if let Some(watch) = password_watch {
            watch.abort();
        }
        if let Some(link) = link {
            link.stop().await;
        }
        served
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

/// Tells systemd about the service's state; without `NOTIFY_SOCKET` (not started by
/// systemd) nothing is sent.
fn notify_systemd(state: sd_notify::NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
