//! The test controls as a JSON API under `/sim/`, for tests that run `hilink-sim` as a
//! process: the same operations as the methods of [`Simulator`].
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
//! | `POST /sim/timings`        | `{"send_duration_ms",…,"ussd_delay_ms"}` (any subset) | new timings for new sends and USSD codes |
//! | `GET /sim/ussd`            |                                             | the USSD table, whether a dialog is open, the codes forwarded |
//! | `POST /sim/ussd`           | `{"code":"*100#","reply":{"answer":"…"}}`   | how the operator answers a code (`"busy"`, `"no_answer"`, `"network_timeout"`, `"unsupported"`) |
//! | `POST /sim/reset`          |                                             | factory state, empty ledger, first USSD table |

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::config::{Profile, Timings};
use super::operator::{UssdReply, UssdService};
use super::simulator::{Availability, Simulator};
use super::state::outbox::{LedgerEntry, SendFault};
use super::state::storage::{Counts, InboundOutcome, StoredSms};
use super::state::ussd::UssdRequest;

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
        .route("/sim/ussd", get(ussd).post(set_ussd))
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
    profile: Profile,
    availability: Availability,
    timings: Timings,
    counts: Counts,
    sessions: usize,
    use_s_report: bool,
}

async fn state(State(sim): Sim) -> Json<StateView> {
    let mut state = sim.lock();
    let counts = state.counts(Instant::now());
    Json(StateView {
        profile: sim.profile(),
        availability: sim.availability(),
        timings: state.timings(),
        counts,
        sessions: state.sessions.len(),
        use_s_report: state.settings().use_s_report,
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
    ussd_delay_ms: Option<u64>,
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
    if let Some(ms) = body.ussd_delay_ms {
        t.ussd_delay = Duration::from_millis(ms);
    }
    sim.set_timings(t);
    Json(t)
}

/// The USSD side for humans and tests.
#[derive(Debug, serde::Serialize)]
struct UssdView {
    service: UssdService,
    dialog_open: bool,
    requests: Vec<UssdRequest>,
}

async fn ussd(State(sim): Sim) -> Json<UssdView> {
    Json(UssdView {
        service: sim.ussd_service(),
        dialog_open: sim.ussd_dialog_open(),
        requests: sim.ussd_requests(),
    })
}

#[derive(Debug, serde::Deserialize)]
struct UssdReplyBody {
    code: String,
    reply: UssdReply,
}

async fn set_ussd(State(sim): Sim, Json(body): Json<UssdReplyBody>) -> Json<Done> {
    sim.set_ussd_reply(&body.code, body.reply);
    DONE
}

async fn reset(State(sim): Sim) -> Json<Done> {
    sim.reset();
    DONE
}
