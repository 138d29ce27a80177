//! The error of the broker crate: what can stop the broker from starting.

use std::{io, net::SocketAddr, path::PathBuf};

/// Why the broker could not start (running brokers log their troubles instead).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file could not be read.
    #[error("cannot read the configuration file {path}: {error}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why (part of the message, so not a separate `source`).
        error: io::Error,
    },
    /// The configuration is not valid TOML or breaks a rule.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The TLS certificate or key of a listener is missing or not PEM.
    #[error("TLS files of listener {listener}: {reason}")]
    Tls {
        /// The listener's name.
        listener: String,
        /// What is wrong.
        reason: String,
    },
    /// A listener (MQTT or metrics) could not bind its address.
    #[error("cannot listen on {addr} ({listener}): {error}")]
    Bind {
        /// The listener's name.
        listener: String,
        /// The address.
        addr: SocketAddr,
        /// Why (part of the message, so not a separate `source`).
        error: io::Error,
    },
    /// The broker's runtime could not be built.
    #[error("cannot start the broker runtime: {0}")]
    Runtime(io::Error),
}
