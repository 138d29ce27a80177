//! A simulated Huawei HiLink modem, faithful enough that an independent client cannot tell
//! it from a device: the agent's tests use it as their modem.
//!
//! Start it in-process with [`Simulator::start`] (port 0 in tests) or as the `hilink-sim`
//! binary. Three firmware families are simulated ([`Profile`]); timings are configurable
//! ([`Timings`]); faults are injected and the ground truth is read through the methods of
//! [`Simulator`] (reached through [`SimHandle`]) or the JSON API under `/sim/` (see
//! `control`). The [`Simulator::ledger`] lists every SMS the simulated network accepted,
//! which is what tests count lost and duplicated messages against.
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
mod device;
mod http;
mod server;
mod session;
mod xml;

pub use config::{Profile, SimConfig, Timings};
pub use device::{Counts, Folder, InboundOutcome, LedgerEntry, SendFault, StoredSms};
pub use server::{Availability, SimHandle, Simulator};
