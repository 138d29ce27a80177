//! The TLS side of a TLS listener, terminated by the front (module `front`).
//!
//! rumqttd can terminate TLS itself, but it runs each handshake inside its accept loop,
//! without a timeout, and re-reads the PEM files for every connection: one client that
//! opens a socket and never finishes its handshake stops every later client from getting
//! in (crates.md §2). So the front does it, each handshake in its own task with a
//! deadline, and relays the decrypted stream to rumqttd on loopback like any other. The
//! certificate is read once, at start.

use std::sync::Arc;

use crate::{config::TlsFiles, error::Error};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        crypto::aws_lc_rs,
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    },
};

/// Reads the certificate chain and key and builds the server side of TLS (1.2 and 1.3,
/// with aws-lc-rs named explicitly: the workspace also links ring, and rustls refuses to
/// guess between two providers).
pub(crate) fn acceptor(listener: &str, files: &TlsFiles) -> Result<TlsAcceptor, Error> {
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
    Ok(TlsAcceptor::from(Arc::new(config)))
}
