//! The integration tests of smsgw-api: one binary, each test with its own database and
//! its own app on port 0 (see `helpers.rs`).

mod accept;
mod admin;
mod auth;
mod cli;
mod database_role;
mod dead_letters;
mod dispatch;
mod events;
mod health;
mod helpers;
mod housekeeping;
mod idempotency;
mod ingest;
mod key_scopes;
mod login;
mod messages_cancel;
mod messages_list;
mod messages_send;
mod mqtt;
mod openapi;
mod rate_limit;
mod readme;
mod retention;
mod seed_compat;
mod sites;
