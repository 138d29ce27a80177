//! TLS termination in front of rumqttd.
//!
//! rumqttd can terminate TLS itself, but it runs each handshake inside its accept loop,
//! without a timeout, and re-reads the PEM files for every connection: one client that
//! opens a socket and never finishes its handshake stops every later client from getting
//! in (crates.md §2). So a TLS listener here is ours: each connection gets its own task, a
//! handshake deadline and a slot out of `max_connections`; once the handshake is done
//! the bytes are relayed to a plain rumqttd listener on loopback, which authenticates the
//! client by its JWT like any other. The certificate is read once, at start.

use std::{
    net::{SocketAddr, TcpListener as StdTcpListener},
    sync::Arc,
    time::Duration,
};

use tokio::{net::TcpStream, sync::Semaphore, time::timeout};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        crypto::aws_lc_rs,
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    },
};
use tracing::{debug, warn};

use crate::{config::TlsFiles, error::Error};

/// Reads the certificate chain and key and builds the server side of TLS (1.2 and 1.3,
/// with aws-lc-rs named explicitly: the workspace also links ring, and rustls refuses to
/// guess between two providers).
pub(crate) fn server_config(listener: &str, files: &TlsFiles) -> Result<Arc<ServerConfig>, Error> {
    let fail = |reason: String| Error::Tls {
        listener: listener.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| fail(format!("certificate {}: {e}", files.cert.display())))?;
    if certs.is_empty() {
        return Err(fail(format!(
            "{} holds no PEM certificate",
            files.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| fail(format!("private key {}: {e}", files.key.display())))?;
    let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| fail(format!("certificate and key do not fit: {e}")))?;
    Ok(Arc::new(config))
}

/// One TLS listener's settings.
pub(crate) struct Termination {
    /// The server side of TLS.
    pub config: Arc<ServerConfig>,
    /// The plain rumqttd listener the decrypted bytes go to.
    pub upstream: SocketAddr,
    /// Time a client has to complete its handshake.
    pub handshake_timeout: Duration,
    /// Connection slots (shared by every TLS listener of the broker).
    pub slots: Arc<Semaphore>,
}

/// Accepts TLS clients on `listener` until the runtime stops.
pub(crate) async fn serve(
    listener: StdTcpListener,
    termination: Termination,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let acceptor = TlsAcceptor::from(termination.config);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                warn!(error = %e, "TLS listener cannot accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = termination.slots.clone().try_acquire_owned() else {
            warn!(%peer, "TLS connection refused: no connection slot left");
            continue;
        };
        // MQTT packets are small and latency matters more than batching.
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let upstream = termination.upstream;
        let deadline = termination.handshake_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            let mut tls = match timeout(deadline, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let mut broker = match TcpStream::connect(upstream).await {
                Ok(stream) => stream,
                Err(e) => {
                    warn!(%peer, error = %e, "cannot reach the internal MQTT listener");
                    return;
                }
            };
            let _ = broker.set_nodelay(true);
            if let Err(e) = tokio::io::copy_bidirectional(&mut tls, &mut broker).await {
                debug!(%peer, error = %e, "TLS connection ended");
            }
        });
    }
}
