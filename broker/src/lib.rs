//! smsgw-broker: the MQTT broker that joins the cloud API and the branch agents.
//!
//! It embeds rumqttd and adds what smsgw needs around it: listeners from a TOML file
//! ([`config`]), JWT credentials checked at CONNECT ([`auth`]), Prometheus metrics
//! ([`metrics`]) and a runtime of its own so that it starts on free ports and stops cleanly
//! ([`broker`]). Tests of the other crates start it in-process with
//! [`start`]`(`[`BrokerConfig::loopback`]`(), &secret)`.
//!
//! What rumqttd does not do (no persistence, no per-topic ACL, lossy offline queues) is
//! listed in the crate's README; smsgw's end-to-end acknowledgements cover the losses.

pub mod auth;
pub mod broker;
pub mod cli;
pub mod config;
pub mod error;
pub mod metrics;
pub mod telemetry;
mod tls;

pub use auth::{Authenticator, JwtSecret};
pub use broker::{BoundListener, BrokerHandle, start};
pub use config::BrokerConfig;
pub use error::Error;
