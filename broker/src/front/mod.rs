//! The MQTT-aware front of every listener, plain or TLS: it accepts the clients, checks
//! them and relays them to rumqttd on loopback.
//!
//! rumqttd has no topic ACL, so the topic rules of smsgw-shared are enforced here, before
//! anything reaches it: at CONNECT the credential is verified (a refusal gets a CONNACK
//! that says so) and the Will checked ([`connect`]); afterwards every SUBSCRIBE and
//! PUBLISH is checked and the rest relayed byte for byte ([`relay`], [`wire`]). Every
//! refusal is logged with the client id and the (shortened) topic and counted in
//! `smsgw_broker_refused_total{reason}`. rumqttd itself accepts only connections that
//! present the broker's internal secret, a random value made at start that only the front
//! knows, so a local process cannot go around the front to the loopback listener.
//!
//! Each connection has its own task, a slot out of `limits.max_connections`, a deadline
//! for its TLS handshake and one for its CONNECT, so one slow client never holds up the
//! others. The live connections are registered ([`crate::connections`]) so that the
//! broker can close those of a revoked credential.

mod connect;
mod relay;
mod wire;

use std::{
    io,
    net::{SocketAddr, TcpListener as StdTcpListener},
    sync::Arc,
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    sync::Semaphore,
    time::timeout,
};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use tracing::{debug, warn};

use crate::{
    auth::Authenticator,
    connections::{Connections, LiveConnection},
    rules::TopicRoot,
};

/// What every listener's front shares.
pub(crate) struct Shared {
    /// Verifies credentials at CONNECT.
    pub authenticator: Authenticator,
    /// The topic rules under the deployment's root.
    pub rules: TopicRoot,
    /// The password rumqttd accepts, known only to the front.
    pub internal_secret: String,
    /// The live connections.
    pub connections: Connections,
    /// Largest packet accepted from a client (`limits.max_payload_size`).
    pub max_packet: usize,
    /// Time a client has to send its CONNECT.
    pub connect_timeout: Duration,
    /// Connection slots, shared by every listener.
    pub slots: Arc<Semaphore>,
}

/// One listener's front.
pub(crate) struct Front {
    /// The rumqttd listener on loopback that admitted clients are relayed to.
    pub upstream: SocketAddr,
    /// Whether the listener speaks MQTT 5 (else 3.1.1).
    pub v5: bool,
    /// TLS and its handshake deadline, for a TLS listener.
    pub tls: Option<(TlsAcceptor, Duration)>,
    /// The broker-wide settings.
    pub shared: Arc<Shared>,
}

/// Accepts clients on `listener` until the runtime stops.
pub(crate) async fn serve(listener: StdTcpListener, front: Front) -> io::Result<()> {
    let listener = TcpListener::from_std(listener)?;
    let front = Arc::new(front);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                warn!(error = %e, "MQTT listener cannot accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = front.shared.slots.clone().try_acquire_owned() else {
            warn!(%peer, "MQTT connection refused: no connection slot left");
            continue;
        };
        // MQTT packets are small and latency matters more than batching.
        let _ = tcp.set_nodelay(true);
        let front = front.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match &front.tls {
                None => serve_client(tcp, peer, &front).await,
                Some((acceptor, deadline)) => {
                    match timeout(*deadline, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => serve_client(tls, peer, &front).await,
                        Ok(Err(e)) => debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// A client stream that splits into a read and a write half.
pub(crate) trait Halves: AsyncRead + AsyncWrite + Unpin + Send {
    /// The read half.
    type Read: AsyncRead + Unpin + Send;
    /// The write half.
    type Write: AsyncWrite + Unpin + Send;
    /// Splits the stream.
    fn halves(self) -> (Self::Read, Self::Write);
}

impl Halves for TcpStream {
    type Read = OwnedReadHalf;
    type Write = OwnedWriteHalf;
    fn halves(self) -> (Self::Read, Self::Write) {
        self.into_split()
    }
}

impl Halves for TlsStream<TcpStream> {
    type Read = ReadHalf<Self>;
    type Write = WriteHalf<Self>;
    fn halves(self) -> (Self::Read, Self::Write) {
        tokio::io::split(self)
    }
}

/// One client, from its CONNECT to the end of its connection.
async fn serve_client<S: Halves>(mut stream: S, peer: SocketAddr, front: &Front) {
    let shared = &*front.shared;
    let first = timeout(
        shared.connect_timeout,
        connect::read_first_packet(&mut stream, shared.max_packet),
    )
    .await;
    let (packet, leftover) = match first {
        Ok(Ok(read)) => read,
        Ok(Err(why)) => return debug!(%peer, "closing: {why}"),
        Err(_) => return debug!(%peer, "closing: no CONNECT in time"),
    };
    let admitted = match connect::admit(packet, shared, front.v5) {
        Ok(admitted) => admitted,
        Err(connect::Turned::Refused(connack)) => {
            let _ = stream.write_all(&connack).await;
            let _ = stream.shutdown().await;
            return;
        }
        Err(connect::Turned::Unreadable(why)) => return debug!(%peer, "closing: {why}"),
    };
    let mut upstream = match TcpStream::connect(front.upstream).await {
        Ok(upstream) => upstream,
        Err(e) => return warn!(%peer, error = %e, "cannot reach the internal MQTT listener"),
    };
    let _ = upstream.set_nodelay(true);
    if let Err(e) = upstream.write_all(&admitted.upstream_connect).await {
        return warn!(%peer, error = %e, "cannot write to the internal MQTT listener");
    }
    let registration = shared.connections.register(LiveConnection {
        client_id: admitted.client_id.clone(),
        principal: admitted.verified.principal.clone(),
        claims: admitted.verified.claims.clone(),
    });
    let session = relay::Session {
        client_id: &admitted.client_id,
        principal: &admitted.verified.principal,
        v5: front.v5,
        shared,
    };
    let (read, write) = stream.halves();
    relay::run(
        read,
        write,
        upstream,
        leftover,
        session,
        registration.closed(),
    )
    .await;
}
