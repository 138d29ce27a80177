//! End-to-end tests: the real binaries as separate processes (see the `smsgw_e2e` crate),
//! driven only through the HTTP API and the simulated modems' control API.
//!
//! `cargo test -p smsgw-e2e` builds the programs first if needed. Every test starts its
//! own stack on its own database; on failure the logs of every program are kept and their
//! ends printed. `SMSGW_E2E_LOG=debug` makes the programs log more.

mod chaos;
mod flows;
mod notify;
mod outage;
mod routing;

use std::time::Duration;

use smsgw_e2e::{SiteSpec, Stack, StackBuilder};

/// Longest wait for one step of a message on a loaded machine.
pub const WAIT: Duration = Duration::from_secs(60);

/// Starts `builder`'s stack or fails the test.
pub async fn start(builder: StackBuilder) -> Stack {
    builder.start().await.expect("the stack starts")
}

/// A stack with one site, `main`, with one modem.
pub async fn one_site() -> Stack {
    start(Stack::builder().site(SiteSpec::new("main", 1))).await
}
