//! End-to-end harness of smsgw: a [`Stack`] runs the real programs — `smsgw-broker`,
//! `smsgw-api`, `hilink-sim` modems and `smsgw-agent`s — as separate processes, wired
//! together the way a deployment is (the API's CLI registers the sites and prints the
//! agents' broker tokens), each stack on its own fresh PostgreSQL database, free ports and
//! temporary directory. Tests then speak only the public interfaces: the HTTP API
//! ([`ApiClient`]) and the simulator's control API ([`SimControl`]), and they break things
//! the way production breaks them: SIGKILL, restarts, modem faults.
//!
//! The programs are built by cargo the first time a test process needs them
//! ([`binaries`]), in the profile and target directory of the test itself, so
//! `cargo test --workspace` always tests the code it just compiled.

pub mod api;
pub mod binaries;
pub mod error;
pub mod postgres;
pub mod process;
pub mod sim;
pub mod stack;
pub mod wait;

pub use api::{Answer, ApiClient};
pub use binaries::{Binaries, binaries};
pub use error::E2eError;
pub use sim::SimControl;
pub use stack::{SiteSpec, Stack, StackBuilder};
pub use wait::eventually;
