//! Connecting to the broker the same way from the agent and the API (feature `mqtt`): the
//! rumqttc transport for a [`BrokerUrl`] and the delays between reconnect attempts.
//!
//! TLS uses our own rustls configuration with the aws-lc-rs provider: rumqttc's default
//! configuration panics when the system has no CA bundle, and rustls panics when two
//! crypto providers are compiled in and none was chosen.

use std::{path::Path, sync::Arc, time::Duration};

use rumqttc::{TlsConfiguration, Transport};
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, pem::PemObject},
};

use crate::broker::BrokerUrl;

/// Why a TLS transport could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The CA file could not be read or holds no certificate.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
}

/// The transport for `url`: plain TCP, or TLS trusting `ca_file` (PEM) when given, else
/// the Mozilla root set compiled in (webpki-roots).
pub fn transport(url: &BrokerUrl, ca_file: Option<&Path>) -> Result<Transport, TransportError> {
    if !url.tls {
        return Ok(Transport::tcp());
    }
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let fail = |reason: String| TransportError::CaFile {
                path: path.display().to_string(),
                reason,
            };
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| fail(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail(e.to_string()))?;
            if certs.is_empty() {
                return Err(fail("no PEM certificate in it".into()));
            }
            for cert in certs {
                roots.add(cert)?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Transport::tls_with_config(TlsConfiguration::Rustls(
        Arc::new(config),
    )))
}

/// Delays between reconnect attempts: exponential from `min` to `max`, with jitter, for
/// ever (rumqttc reconnects on the next poll without waiting of its own).
pub fn reconnect_delays(min: Duration, max: Duration) -> impl Iterator<Item = Duration> {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(min)
        .with_max_delay(max.max(min))
        .with_jitter()
        .without_max_times()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_tls_transports() {
        let plain: BrokerUrl = "mqtt://127.0.0.1:1883".parse().expect("url");
        assert!(matches!(transport(&plain, None), Ok(Transport::Tcp)));
        let tls: BrokerUrl = "mqtts://broker.example".parse().expect("url");
        assert!(matches!(transport(&tls, None), Ok(Transport::Tls(_))));
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_an_error() {
        let tls: BrokerUrl = "mqtts://broker.example".parse().expect("url");
        let missing = transport(&tls, Some(Path::new("/nonexistent/ca.pem")));
        assert!(matches!(missing, Err(TransportError::CaFile { .. })));
        let dir = std::env::temp_dir().join(format!("smsgw-ca-{}", std::process::id()));
        std::fs::write(&dir, "not a certificate\n").expect("write");
        let empty = transport(&tls, Some(&dir));
        let _ = std::fs::remove_file(&dir);
        assert!(matches!(empty, Err(TransportError::CaFile { .. })));
    }

    #[test]
    fn delays_grow_to_the_maximum() {
        let delays: Vec<_> = reconnect_delays(Duration::from_millis(100), Duration::from_secs(1))
            .take(20)
            .collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(2)));
        assert!(delays[15] >= Duration::from_millis(900));
    }
}
