//! smsgw-api: the stateless cloud API of smsgw.
//!
//! Applications send and read SMS here over HTTPS; every message lives in PostgreSQL and
//! travels to the branch agents as MQTT commands. Any replica can answer any request and
//! die at any moment: everything that must be exact (messages, rate limits, idempotency
//! records) lives in the database.
//!
//! The binary is thin; this library holds the parts so that the tests drive them
//! in-process: [`config`] (command line and environment), [`startup`] (binding and
//! serving), [`http`] (routes and the error model), [`domain`] (validated values) and
//! [`store`] (SQL next to the functions that need it) and [`jobs`] (background loops).

pub mod commands;
pub mod config;
pub mod database;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod mqtt;
pub mod secrets;
pub mod startup;
pub mod store;
pub mod telemetry;

/// The database migrations, embedded at compile time; `serve` runs them on start and
/// `migrate` runs them alone.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
