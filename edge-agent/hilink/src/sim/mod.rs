//! A simulated Huawei HiLink modem, faithful enough that an independent client cannot tell
//! it from a device: the agent's tests use it as their modem.
//!
//! Start it in-process with [`Simulator::start`] (port 0 in tests) or as the `hilink-sim`
//! binary. Three firmware families are simulated ([`Profile`]); timings are configurable
//! ([`Timings`]); the operator answers USSD codes from a table ([`UssdService`]); faults are
//! injected and the ground truth is read through the methods of [`Simulator`] (reached
//! through [`SimHandle`]) or the JSON API under `/sim/` (see `control`). The
//! [`Simulator::ledger`] lists every SMS the simulated network accepted, which is what tests
//! count lost and duplicated messages against.
//!
//! Layers, each using only those below it: `config` and `operator` (what to simulate),
//! `xml` (the device's XML), `state` (everything the device remembers), `simulator` (the
//! state behind a lock, with the controls), `http` (the device API) and `control` (the
//! `/sim/` API), `listener` (being offline), `server` (binding and the handle).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use hilink::sim::{Profile, SimConfig, Simulator, Timings};
//! let sim = Simulator::start(SimConfig::new(Profile::E3372h).with_timings(Timings::fast())).await?;
//! let url = sim.base_url(); // give this to the client
//! sim.inject_inbound("+4915112345678", "hello", false);
//! assert!(sim.ledger().is_empty());
//! # Ok(()) }
//! ```

mod config;
mod control;
mod http;
mod listener;
mod operator;
mod server;
mod simulator;
mod state;
mod xml;

pub use config::{Profile, SimConfig, Timings};
pub use operator::{UssdReply, UssdService};
pub use server::SimHandle;
pub use simulator::{Availability, Simulator};
pub use state::outbox::{LedgerEntry, SendFault};
pub use state::storage::{Counts, Folder, InboundOutcome, StoredSms};
pub use state::ussd::UssdRequest;
