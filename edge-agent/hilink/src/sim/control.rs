//! The test controls: Rust methods on [`Simulator`] and the same operations as a JSON API
//! under `/sim/`, for tests that run `hilink-sim` as a process.
//!
//! | method and path            | body                                        | does |
//! |----------------------------|---------------------------------------------|------|
//! | `GET /sim/ledger`          |                                             | every SMS the network accepted |
//! | `GET /sim/messages`        |                                             | everything in local storage |
//! | `GET /sim/state`           |                                             | profile, timings, counts, availability |
//! | `POST /sim/inbound`        | `{"from","text","split":false}`             | an SMS arrives |
//! | `POST /sim/fail-sends`     | `{"count":1,"fault":"overtime"}`            | next sends fail (`overtime` 113018, `busy` 100004, `fail_phone`, `{"code":N}`) |
//! | `POST /sim/fail-number`    | `{"phone"}`                                 | sends to this number always fail |
//! | `POST /sim/fail-reports`   | `{"count":1}`                               | next delivery reports say failed |
//! | `POST /sim/expire-sessions`|                                             | every session ends (125002) |
//! | `POST /sim/offline`        | `{"mode":"refuse"\|"hang","duration_ms":N}` | device unreachable, optionally for a while |
//! | `POST /sim/online`         |                                             | device reachable again |
//! | `POST /sim/fill-storage`   | `{"leave_free":0}`                          | local storage filled |
//! | `POST /sim/timings`        | `{"send_duration_ms",…}` (any subset)       | new timings for new sends |
//! | `POST /sim/reset`          |                                             | factory state, empty ledger |

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::config::Timings;
use super::device::{Counts, InboundOutcome, LedgerEntry, SendFault, StoredSms};
use super::server::{Availability, Simulator};

impl Simulator {
    /// Every SMS the simulated network accepted, in order.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        let mut inner = self.lock();
        inner.device.tick(Instant::now());
        inner.device.ledger().to_vec()
    }

    /// Everything in local storage, by index.
    pub fn messages(&self) -> Vec<StoredSms> {
        let mut inner = self.lock();
        inner.device.tick(Instant::now());
        inner.device.messages().cloned().collect()
    }

    /// The `sms-count` figures right now.
    pub fn counts(&self) -> Counts {
        self.lock().device.counts(Instant::now())
    }

    /// An SMS from `from` arrives. Longer than one segment it arrives as SmsType 2, one
    /// reassembled message or, with `split`, one message per part.
    pub fn inject_inbound(&self, from: &str, text: &str, split: bool) -> InboundOutcome {
        self.lock()
            .device
            .inject_inbound(Instant::now(), from, text, split)
    }

    /// The next `count` sends fail with `fault`.
    pub fn fail_next_sends(&self, count: usize, fault: SendFault) {
        self.lock().device.fail_next_sends(count, fault);
    }

    /// Sends to `phone` fail (the number lands in `FailPhone`) until reset.
    pub fn fail_number(&self, phone: &str) {
        self.lock().device.fail_number(phone);
    }

    /// The next `count` delivery reports say "failed" (SmsType 8).
    pub fn fail_next_reports(&self, count: usize) {
        self.lock().device.fail_next_reports(count);
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
        self.lock().device.fill_storage(Instant::now(), leave_free);
    }

    /// The current timings.
    pub fn timings(&self) -> Timings {
        self.lock().device.timings()
    }

    /// New timings for sends and reports from now on.
    pub fn set_timings(&self, timings: Timings) {
        self.lock().device.set_timings(timings);
    }

    /// Factory state: no messages, sessions, faults or ledger; online.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.device.reset();
        inner.sessions.clear();
        drop(inner);
        self.availability.send_replace(Availability::Online);
    }
}

/// The `/sim/` routes.
pub(super) fn router(sim: Arc<Simulator>) -> Router {
    Router::new()
        .route("/sim/ledger", get(ledger))
        .route("/sim/messages", get(messages))
        .route("/sim/state", get(state))
        .route("/sim/inbound", post(inbound))
        .route("/sim/fail-sends", post(fail_sends))
        .route("/sim/fail-number", post(fail_number))
        .route("/sim/fail-reports", post(fail_reports))
        .route("/sim/expire-sessions", post(expire_sessions))
        .route("/sim/offline", post(offline))
        .route("/sim/online", post(online))
        .route("/sim/fill-storage", post(fill_storage))
        .route("/sim/timings", post(timings))
        .route("/sim/reset", post(reset))
        .with_state(sim)
}

type Sim = State<Arc<Simulator>>;

/// What the control API answers to a command.
#[derive(Debug, serde::Serialize)]
struct Done {
    ok: bool,
}

const DONE: Json<Done> = Json(Done { ok: true });

async fn ledger(State(sim): Sim) -> Json<Vec<LedgerEntry>> {
    Json(sim.ledger())
}

async fn messages(State(sim): Sim) -> Json<Vec<StoredSms>> {
    Json(sim.messages())
}

/// A summary for humans and tests.
#[derive(Debug, serde::Serialize)]
struct StateView {
    profile: super::config::Profile,
    availability: Availability,
    timings: Timings,
    counts: Counts,
    sessions: usize,
    use_s_report: bool,
}

async fn state(State(sim): Sim) -> Json<StateView> {
    let mut inner = sim.lock();
    let counts = inner.device.counts(Instant::now());
    Json(StateView {
        profile: sim.profile(),
        availability: sim.availability(),
        timings: inner.device.timings(),
        counts,
        sessions: inner.sessions.len(),
        use_s_report: inner.device.config().use_s_report,
    })
}

#[derive(Debug, serde::Deserialize)]
struct InboundBody {
    from: String,
    text: String,
    #[serde(default)]
    split: bool,
}

async fn inbound(State(sim): Sim, Json(body): Json<InboundBody>) -> Json<InboundOutcome> {
    Json(sim.inject_inbound(&body.from, &body.text, body.split))
}

#[derive(Debug, serde::Deserialize)]
struct FailSendsBody {
    #[serde(default = "one")]
    count: usize,
    fault: SendFault,
}

fn one() -> usize {
    1
}

async fn fail_sends(State(sim): Sim, Json(body): Json<FailSendsBody>) -> Json<Done> {
    sim.fail_next_sends(body.count, body.fault);
    DONE
}

#[derive(Debug, serde::Deserialize)]
struct PhoneBody {
    phone: String,
}

async fn fail_number(State(sim): Sim, Json(body): Json<PhoneBody>) -> Json<Done> {
    sim.fail_number(&body.phone);
    DONE
}

#[derive(Debug, serde::Deserialize)]
struct CountBody {
    #[serde(default = "one")]
    count: usize,
}

async fn fail_reports(State(sim): Sim, Json(body): Json<CountBody>) -> Json<Done> {
    sim.fail_next_reports(body.count);
    DONE
}

async fn expire_sessions(State(sim): Sim) -> Json<Done> {
    sim.expire_sessions();
    DONE
}

#[derive(Debug, serde::Deserialize)]
struct OfflineBody {
    mode: Availability,
    duration_ms: Option<u64>,
}

async fn offline(State(sim): Sim, Json(body): Json<OfflineBody>) -> Json<Done> {
    sim.set_availability(body.mode, body.duration_ms.map(Duration::from_millis));
    DONE
}

async fn online(State(sim): Sim) -> Json<Done> {
    sim.set_availability(Availability::Online, None);
    DONE
}

#[derive(Debug, Default, serde::Deserialize)]
struct FillBody {
    #[serde(default)]
    leave_free: usize,
}

async fn fill_storage(State(sim): Sim, body: Option<Json<FillBody>>) -> Json<Done> {
    let Json(body) = body.unwrap_or_default();
    sim.fill_storage(body.leave_free);
    DONE
}

#[derive(Debug, serde::Deserialize)]
struct TimingsBody {
    send_duration_ms: Option<u64>,
    report_delay_ms: Option<u64>,
    min_send_gap_ms: Option<u64>,
    request_latency_ms: Option<u64>,
}

async fn timings(State(sim): Sim, Json(body): Json<TimingsBody>) -> Json<Timings> {
    let mut t = sim.timings();
    if let Some(ms) = body.send_duration_ms {
        t.send_duration = Duration::from_millis(ms);
    }
    if let Some(ms) = body.report_delay_ms {
        t.report_delay = Duration::from_millis(ms);
    }
    if let Some(ms) = body.min_send_gap_ms {
        t.min_send_gap = Duration::from_millis(ms);
    }
    if let Some(ms) = body.request_latency_ms {
        t.request_latency = Duration::from_millis(ms);
    }
    sim.set_timings(t);
    Json(t)
}

async fn reset(State(sim): Sim) -> Json<Done> {
    sim.reset();
    DONE
}
