//! The simulated device as a value: its configuration, its state behind one lock, whether it
//! answers, and the controls tests use to inject faults and read the ground truth.
//!
//! Above the state, below everything that speaks HTTP: the device API (`http`), the JSON
//! control API (`control`) and the listeners (`server`) all work through a shared
//! `Arc<Simulator>`.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::config::{Profile, SimConfig, Timings};
use super::operator::{UssdReply, UssdService};
use super::state::State;
use super::state::outbox::{LedgerEntry, SendFault};
use super::state::storage::{Counts, InboundOutcome, StoredSms};
use super::state::ussd::UssdRequest;

/// Whether the device answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Normal operation.
    Online,
    /// The listening socket is closed: new connections are refused, open ones are reset.
    Refuse,
    /// Connections are accepted but requests get no answer.
    Hang,
}

/// A running simulated device. Obtained through [`crate::sim::SimHandle`], which derefs to
/// it; its methods are the fault-injection and inspection controls.
#[derive(Debug)]
pub struct Simulator {
    config: SimConfig,
    state: Mutex<State>,
    availability: watch::Sender<Availability>,
}

impl Simulator {
    /// A device in factory state, online, not yet listening anywhere.
    pub(crate) fn new(config: SimConfig) -> Self {
        let (availability, _) = watch::channel(Availability::Online);
        Simulator {
            state: Mutex::new(State::new(&config)),
            config,
            availability,
        }
    }

    /// The firmware family being simulated.
    pub fn profile(&self) -> Profile {
        self.config.profile
    }

    /// The configuration the simulator was started with (timings and the USSD table may
    /// have changed since; see [`Simulator::timings`] and [`Simulator::ussd_service`]).
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The device state, locked.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Follows availability changes (the listener and the request gate do).
    pub(crate) fn watch_availability(&self) -> watch::Receiver<Availability> {
        self.availability.subscribe()
    }

    /// Every SMS the simulated network accepted, in order.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.lock().ledger(Instant::now()).to_vec()
    }

    /// Everything in local storage, by index.
    pub fn messages(&self) -> Vec<StoredSms> {
        self.lock().messages(Instant::now())
    }

    /// The `sms-count` figures right now.
    pub fn counts(&self) -> Counts {
        self.lock().counts(Instant::now())
    }

    /// An SMS from `from` arrives. Longer than one segment it arrives as SmsType 2, one
    /// reassembled message or, with `split`, one message per part.
    pub fn inject_inbound(&self, from: &str, text: &str, split: bool) -> InboundOutcome {
        self.lock()
            .inject_inbound(Instant::now(), from, text, split)
    }

    /// The next `count` sends fail with `fault`.
    pub fn fail_next_sends(&self, count: usize, fault: SendFault) {
        self.lock().fail_next_sends(count, fault);
    }

    /// Sends to `phone` fail (the number lands in `FailPhone`) until reset.
    pub fn fail_number(&self, phone: &str) {
        self.lock().fail_number(phone);
    }

    /// The next `count` delivery reports say "failed" (SmsType 8).
    pub fn fail_next_reports(&self, count: usize) {
        self.lock().fail_next_reports(count);
    }

    /// Ends every session: the next request with an old cookie gets 125002.
    pub fn expire_sessions(&self) {
        self.lock().sessions.clear();
    }

    /// Whether the device answers right now.
    pub fn availability(&self) -> Availability {
        *self.availability.borrow()
    }

    /// Makes the device unreachable (or reachable again with `Online`). With `duration`
    /// it comes back online by itself; that needs a tokio runtime.
    pub fn set_availability(&self, mode: Availability, duration: Option<Duration>) {
        tracing::info!(?mode, ?duration, "simulated availability change");
        self.availability.send_replace(mode);
        let Some(duration) = duration.filter(|_| mode != Availability::Online) else {
            return;
        };
        let sender = self.availability.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    tokio::time::sleep(duration).await;
                    sender.send_replace(Availability::Online);
                });
            }
            Err(_) => tracing::warn!("no tokio runtime: the device stays offline until told"),
        }
    }

    /// Fills local storage until `leave_free` places are left.
    pub fn fill_storage(&self, leave_free: usize) {
        self.lock().fill_storage(Instant::now(), leave_free);
    }

    /// The current timings.
    pub fn timings(&self) -> Timings {
        self.lock().timings()
    }

    /// New timings for sends, reports and USSD codes from now on.
    pub fn set_timings(&self, timings: Timings) {
        self.lock().set_timings(timings);
    }

    /// The operator's USSD table in use.
    pub fn ussd_service(&self) -> UssdService {
        self.lock().ussd.service().clone()
    }

    /// The operator answers `code` with `reply` from now on (until reset).
    pub fn set_ussd_reply(&self, code: &str, reply: UssdReply) {
        self.lock().ussd.set_reply(code, reply);
    }

    /// Every USSD code the device forwarded to the network, in order (malformed codes and
    /// codes sent while a dialog was open never get here).
    pub fn ussd_requests(&self) -> Vec<UssdRequest> {
        self.lock().ussd.requests().to_vec()
    }

    /// Whether a USSD dialog is open (`ussd/status` says 1).
    pub fn ussd_dialog_open(&self) -> bool {
        self.lock().ussd.dialog_open(Instant::now())
    }

    /// Factory state: no messages, sessions, faults, ledger or USSD dialog, the USSD table
    /// the simulator started with; online.
    pub fn reset(&self) {
        self.lock().factory_reset();
        self.availability.send_replace(Availability::Online);
    }
}
