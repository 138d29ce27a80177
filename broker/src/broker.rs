//! Starting and stopping the broker: rumqttd's router and servers on a runtime we own.
//!
//! rumqttd's `Broker::start()` blocks forever on threads of its own. Here the router runs
//! on its thread (`Router::spawn`) and each listener's accept loop is a task of a runtime
//! that belongs to the [`BrokerHandle`]; the connections rumqttd spawns from there land on
//! the same runtime. Shutting that runtime down closes every listener and connection at
//! once, which is what SIGTERM does in the binary and what tests use to "restart" a broker.
//! The router thread has no stop signal in rumqttd 0.20: it stays parked until the process
//! exits (one idle thread per broker started in a test process).
//!
//! Every listener is ours (module `front`): it checks each client and relays it to a
//! rumqttd listener on loopback that admits only clients presenting the internal secret.
//! rumqttd binds its listeners itself and never says which port it got, so port 0 is
//! resolved first: we bind an ephemeral port, read it, release it and hand it over
//! (retrying if another process takes it in between).

use std::{
    future::Future,
    io,
    net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener},
    pin::pin,
    sync::Arc,
    task::Poll,
    time::Duration,
};

use rand::RngExt;
use rumqttd::{
    ConnectionSettings, LinkType, RouterConfig, SegmentConfig, Server, ServerSettings, Strategy,
    protocol::{Protocol, v4::V4, v5::V5},
};
use tokio::{
    runtime::Runtime,
    sync::{Semaphore, oneshot},
};
use tokio_rustls::TlsAcceptor;
use tracing::{error, info};

use crate::{
    auth::{Authenticator, JwtSecret},
    config::{BrokerConfig, ListenerConfig, MqttVersion, SharedStrategy},
    connections::Connections,
    error::Error,
    front, metrics, tls,
};

/// How often a port picked for port 0 is tried before giving up.
const PORT_ATTEMPTS: usize = 5;

/// Time given to connections to close when the broker stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A running broker. Dropping it stops the broker too, without waiting.
#[derive(Debug)]
pub struct BrokerHandle {
    /// The first plain MQTT 3.1.1 listener, if any.
    pub mqtt_addr: Option<SocketAddr>,
    /// The first plain MQTT 5 listener, if any.
    pub mqtt5_addr: Option<SocketAddr>,
    /// The first TLS listener, if any.
    pub tls_addr: Option<SocketAddr>,
    /// The metrics endpoint, if enabled.
    pub metrics_addr: Option<SocketAddr>,
    listeners: Vec<BoundListener>,
    connections: Connections,
    runtime: Option<Runtime>,
}

/// A listener as it was bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundListener {
    /// Its name in the configuration.
    pub name: String,
    /// The address it listens on (the real port, also for port 0).
    pub addr: SocketAddr,
    /// The MQTT version it speaks.
    pub protocol: MqttVersion,
    /// Whether it is a TLS listener.
    pub tls: bool,
}

impl BrokerHandle {
    /// Every MQTT listener, in configuration order.
    pub fn listeners(&self) -> &[BoundListener] {
        &self.listeners
    }

    /// The live client connections (to list them, or close some).
    pub fn connections(&self) -> &Connections {
        &self.connections
    }

    /// The address of the listener called `name`.
    pub fn addr_of(&self, name: &str) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.addr)
    }

    /// Stops accepting, closes every connection and waits (briefly) until they are gone,
    /// so that the ports can be bound again at once.
    pub async fn shutdown(mut self) {
        if let Some(runtime) = self.runtime.take() {
            let stopped =
                tokio::task::spawn_blocking(move || runtime.shutdown_timeout(SHUTDOWN_GRACE)).await;
            if stopped.is_err() {
                error!("the broker runtime did not stop cleanly");
            }
        }
        info!("broker stopped");
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Starts a broker: loads the TLS certificates, binds every listener and the metrics
/// endpoint, and returns once they all accept connections. Callable from any tokio runtime
/// (the broker gets its own).
pub async fn start(config: BrokerConfig, secret: &JwtSecret) -> Result<BrokerHandle, Error> {
    config.validate()?;
    let tls_acceptors = config
        .listeners
        .iter()
        .map(|l| match &l.tls {
            Some(files) => tls::acceptor(&l.name, files).map(Some),
            None => Ok(None),
        })
        .collect::<Result<Vec<_>, _>>()?;
    metrics::started();

    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("smsgw-broker");
    if config.worker_threads > 0 {
        builder.worker_threads(config.worker_threads);
    }
    let runtime = builder.build().map_err(Error::Runtime)?;
    let mut handle = BrokerHandle {
        mqtt_addr: None,
        mqtt5_addr: None,
        tls_addr: None,
        metrics_addr: None,
        listeners: Vec::with_capacity(config.listeners.len()),
        connections: Connections::default(),
        runtime: None,
    };
    match bind_all(&runtime, &config, tls_acceptors, secret, &mut handle).await {
        Ok(()) => {
            handle.runtime = Some(runtime);
            Ok(handle)
        }
        Err(e) => {
            // A runtime may not be dropped (blocking) inside another runtime.
            runtime.shutdown_background();
            Err(e)
        }
    }
}

/// Starts the router, every listener and the metrics endpoint on `runtime`, and records
/// their addresses in `handle`. `tls_acceptors` has one entry per listener.
async fn bind_all(
    runtime: &Runtime,
    config: &BrokerConfig,
    tls_acceptors: Vec<Option<TlsAcceptor>>,
    secret: &JwtSecret,
    handle: &mut BrokerHandle,
) -> Result<(), Error> {
    let router_tx = rumqttd::Router::new(0, router_config(config)).spawn();
    let shared = Arc::new(front::Shared {
        authenticator: Authenticator::new(secret),
        rules: config.topic_root.clone(),
        internal_secret: internal_secret(),
        connections: handle.connections.clone(),
        max_packet: config.limits.max_payload_size,
        connect_timeout: Duration::from_millis(config.limits.connect_timeout_ms.into()),
        slots: Arc::new(Semaphore::new(config.limits.max_connections)),
    });
    // rumqttd does not name the type of its router's inbox: keep it in a closure.
    let spawn = async |settings: ServerSettings, protocol: MqttVersion| match protocol {
        MqttVersion::V4 => {
            spawn_server(runtime, Server::new(settings, router_tx.clone(), V4)).await
        }
        MqttVersion::V5 => {
            spawn_server(runtime, Server::new(settings, router_tx.clone(), V5)).await
        }
    };
    let rumqttd = RumqttdStarter {
        config,
        internal_secret: &shared.internal_secret,
        spawn: &spawn,
    };

    for (listener, tls) in config.listeners.iter().zip(tls_acceptors) {
        // rumqttd listens on loopback behind the front.
        let internal = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let upstream = rumqttd.start(listener, internal).await?;
        let bind_error = |error| Error::Bind {
            listener: listener.name.clone(),
            addr: listener.listen,
            error,
        };
        let public = bind_std(listener.listen).map_err(bind_error)?;
        let addr = public.local_addr().map_err(bind_error)?;
        let handshake_timeout = Duration::from_millis(config.limits.tls_handshake_timeout_ms);
        let is_tls = tls.is_some();
        let listener_front = front::Front {
            upstream,
            v5: listener.protocol == MqttVersion::V5,
            tls: tls.map(|acceptor| (acceptor, handshake_timeout)),
            shared: shared.clone(),
        };
        runtime.spawn(async move {
            if let Err(e) = front::serve(public, listener_front).await {
                error!(error = %e, "MQTT listener stopped");
            }
        });
        info!(
            listener = listener.name,
            %addr,
            tls = is_tls,
            protocol = ?listener.protocol,
            topic_root = %config.topic_root,
            "MQTT listener ready"
        );
        let first = match (is_tls, listener.protocol) {
            (true, _) => &mut handle.tls_addr,
            (false, MqttVersion::V4) => &mut handle.mqtt_addr,
            (false, MqttVersion::V5) => &mut handle.mqtt5_addr,
        };
        first.get_or_insert(addr);
        handle.listeners.push(BoundListener {
            name: listener.name.clone(),
            addr,
            protocol: listener.protocol,
            tls: is_tls,
        });
    }

    if let Some(addr) = config.metrics.listen {
        let bind_error = |error| Error::Bind {
            listener: "metrics".into(),
            addr,
            error,
        };
        let listener = bind_std(addr).map_err(bind_error)?;
        let bound = listener.local_addr().map_err(bind_error)?;
        runtime.spawn(async move {
            if let Err(e) = metrics::serve(listener).await {
                error!(error = %e, "metrics endpoint stopped");
            }
        });
        info!(addr = %bound, "metrics endpoint ready");
        handle.metrics_addr = Some(bound);
    }
    Ok(())
}

/// Starts rumqttd listeners that share one router and the internal secret.
struct RumqttdStarter<'a, F> {
    config: &'a BrokerConfig,
    internal_secret: &'a str,
    /// Runs a server on the broker's runtime (see [`spawn_server`]).
    spawn: &'a F,
}

impl<F: AsyncFn(ServerSettings, MqttVersion) -> io::Result<()>> RumqttdStarter<'_, F> {
    /// Starts a plain rumqttd listener for `listener` on `listen` (port 0: a free port)
    /// and returns the address it listens on.
    async fn start(
        &self,
        listener: &ListenerConfig,
        listen: SocketAddr,
    ) -> Result<SocketAddr, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let bind_error = |error| Error::Bind {
                listener: listener.name.clone(),
                addr: listen,
                error,
            };
            // rumqttd binds by itself and never tells the port: take a free one first.
            let addr = if listen.port() == 0 {
                bind_std(listen)
                    .and_then(|probe| probe.local_addr())
                    .map_err(bind_error)?
            } else {
                listen
            };
            let settings = server_settings(self.config, listener, addr, self.internal_secret);
            match (self.spawn)(settings, listener.protocol).await {
                Ok(()) => return Ok(addr),
                // Someone took the free port in between: take another.
                Err(e)
                    if e.kind() == io::ErrorKind::AddrInUse
                        && listen.port() == 0
                        && attempt < PORT_ATTEMPTS => {}
                Err(error) => return Err(bind_error(error)),
            }
        }
    }
}

/// A non-blocking std listener, ready for `tokio::net::TcpListener::from_std` on the
/// broker's runtime.
fn bind_std(addr: SocketAddr) -> io::Result<StdTcpListener> {
    let listener = StdTcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Runs a rumqttd server on `runtime` and reports whether it could bind. The accept loop
/// binds during its first poll (it awaits nothing before), so a first poll that does not
/// finish means the listener is up; a bind error finishes it at once.
async fn spawn_server<P>(runtime: &Runtime, mut server: Server<P>) -> io::Result<()>
where
    P: Protocol + Clone + Send + Sync + 'static,
{
    let (ready_tx, ready_rx) = oneshot::channel();
    runtime.spawn(async move {
        let mut accept_loop = pin!(server.start(LinkType::Remote));
        let first = std::future::poll_fn(|cx| Poll::Ready(accept_loop.as_mut().poll(cx))).await;
        let failure = match first {
            Poll::Pending => {
                let _ = ready_tx.send(Ok(()));
                accept_loop.await.err()
            }
            // rumqttd's error type is private and its Display says little: keep the Debug
            // form, which names the io::ErrorKind.
            Poll::Ready(result) => match result {
                Ok(()) => None,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("{e:?}")));
                    None
                }
            },
        };
        if let Some(e) = failure {
            error!(error = ?e, "MQTT listener stopped");
        }
    });
    match ready_rx.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(reason)) if reason.contains("AddrInUse") => {
            Err(io::Error::new(io::ErrorKind::AddrInUse, reason))
        }
        Ok(Err(reason)) => Err(io::Error::other(reason)),
        Err(_) => Err(io::Error::other("the listener task stopped")),
    }
}

/// A random password for rumqttd, made at every start and known only to the front.
fn internal_secret() -> String {
    let mut rng = rand::rng();
    format!("{:032x}{:032x}", rng.random::<u128>(), rng.random::<u128>())
}

/// Whether two strings are equal, in a time that does not depend on where they differ.
fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// rumqttd's settings of one loopback listener: it admits the front's connections only.
fn server_settings(
    config: &BrokerConfig,
    listener: &ListenerConfig,
    addr: SocketAddr,
    internal_secret: &str,
) -> ServerSettings {
    let limits = &config.limits;
    let mut connections = ConnectionSettings {
        connection_timeout_ms: limits.connect_timeout_ms,
        max_payload_size: limits.max_payload_size,
        max_inflight_count: limits.max_inflight_count,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let secret: Arc<str> = internal_secret.into();
    connections.set_auth_handler(move |_client_id: String, _user: String, password: String| {
        let admitted = same_secret(&password, &secret);
        async move { admitted }
    });
    ServerSettings {
        name: listener.name.clone(),
        listen: addr,
        // TLS is terminated by the front (modules `front` and `tls`).
        tls: None,
        next_connection_delay_ms: limits.accept_delay_ms,
        connections,
    }
}

/// rumqttd's router settings from our limits.
fn router_config(config: &BrokerConfig) -> RouterConfig {
    let limits = &config.limits;
    let custom_segment = limits
        .segment_overrides
        .iter()
        .map(|o| {
            (
                o.filter.clone(),
                SegmentConfig {
                    max_segment_size: o.max_segment_size,
                    max_segment_count: o.max_segment_count,
                },
            )
        })
        .collect::<std::collections::HashMap<_, _>>();
    RouterConfig {
        max_connections: limits.max_connections,
        max_outgoing_packet_count: limits.max_outgoing_packet_count,
        max_segment_size: limits.max_segment_size,
        max_segment_count: limits.max_segment_count,
        custom_segment: (!custom_segment.is_empty()).then_some(custom_segment),
        initialized_filters: None,
        shared_subscriptions_strategy: match limits.shared_subscriptions {
            SharedStrategy::RoundRobin => Strategy::RoundRobin,
            SharedStrategy::Random => Strategy::Random,
            SharedStrategy::Sticky => Strategy::Sticky,
        },
    }
}
