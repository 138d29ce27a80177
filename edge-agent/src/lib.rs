//! smsgw-agent: the edge agent that runs at a branch beside its Huawei modems.
//!
//! It journals send commands durably before acknowledging them, drives each modem through
//! the `hilink` crate with one serial worker per modem, polls for inbound SMS and delivery
//! reports, and reports everything over MQTT with end-to-end acknowledgement (DESIGN §2).
//!
//! Layout: [`config`] (TOML + env), [`journal`] (SQLite), [`modem`] with its [`budget`]
//! and [`breaker`], [`sender`] and [`poller`] (one each per modem), [`mqtt`], [`app`]
//! (wiring), [`metrics`].

pub mod app;
pub mod breaker;
pub mod budget;
pub mod check;
pub mod clock;
pub mod config;
pub mod journal;
pub mod metrics;
pub mod modem;
pub mod mqtt;
pub mod poller;
pub mod sender;

pub use app::{Agent, StartError};
pub use config::Config;
