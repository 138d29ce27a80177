//! smsgw-broker: the MQTT broker that joins the cloud API and the branch agents.
//!
//! It embeds rumqttd and adds what smsgw needs around it: listeners from a TOML file
//! ([`config`]), an MQTT-aware front on every listener that verifies the JWT credential
//! at CONNECT ([`auth`]) and enforces the topic rules of smsgw-shared on every SUBSCRIBE,
//! PUBLISH and Will ([`rules`]) before relaying to rumqttd on loopback, a registry of the
//! live connections ([`connections`]), Prometheus metrics ([`metrics`]) and a runtime of
//! its own so that it starts on free ports and stops cleanly ([`broker`]). Tests of the
//! other crates start it in-process with [`start`]`(`[`BrokerConfig::loopback`]`(), &secret)`.
//!
//! What rumqttd does not do (no persistence, lossy offline queues) is listed in the
//! crate's README; smsgw's end-to-end acknowledgements cover the losses.

pub mod auth;
pub mod broker;
pub mod cli;
pub mod config;
pub mod connections;
pub mod error;
mod front;
pub mod metrics;
pub mod rules;
pub mod telemetry;
mod tls;

pub use auth::{Authenticator, JwtSecret};
pub use broker::{BoundListener, BrokerHandle, start};
pub use config::BrokerConfig;
pub use connections::{Connections, LiveConnection};
pub use error::Error;
pub use rules::TopicRoot;
