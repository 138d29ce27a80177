//! The chaos run: messages are sent continuously while the agent is SIGKILLed and
//! restarted, the broker and the API are restarted (everything the broker held in memory
//! is lost), and the modems answer busy, lose their sessions and go offline. At the end
//! every message must have reached the network exactly once and be `delivered`.
//!
//! `SMSGW_CHAOS_MESSAGES` sets the size (default 500; `SMSGW_CHAOS_MESSAGES=10000` for the
//! long run) and `SMSGW_CHAOS_RATE` the messages sent per second (default 25).

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::Duration,
};

use hilink::sim::{Availability, SendFault};
use serde_json::json;
use smsgw_e2e::{ApiClient, SiteSpec, Stack};
use smsgw_shared::MessageState;
use tokio::{sync::Semaphore, task::JoinSet, time::Instant};

use crate::start;

/// Longest a client keeps retrying one request (the API may be restarting).
const SUBMIT_WITHIN: Duration = Duration::from_secs(180);
/// Longest the gateway may take to settle every message after the last fault.
const RECOVER_WITHIN: Duration = Duration::from_secs(300);
/// Requests in flight at once.
const CLIENTS: usize = 8;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// Sends message `index` until the API answers it with a message, always with the same
/// `Idempotency-Key`: an answer lost to a killed API is asked for again and never makes a
/// second message.
async fn submit(api: ApiClient, run: String, index: u64) -> Result<String, String> {
    let key = format!("chaos-{run}-{index}");
    let body = json!({
        "phone": "+33612345678",
        "content": format!("chaos {run} {index}"),
        "delivery_report": true,
    });
    let deadline = Instant::now() + SUBMIT_WITHIN;
    let mut last = String::new();
    while Instant::now() < deadline {
        match api.send_once(&key, &body).await {
            Ok(answer) if answer.status == 201 || answer.status == 200 => {
                return answer.body["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("no id in {}", answer.body));
            }
            Ok(answer) if answer.status < 500 && answer.status != 429 => {
                return Err(format!("HTTP {}: {}", answer.status, answer.body));
            }
            Ok(answer) => last = format!("HTTP {}", answer.status),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("not accepted within {SUBMIT_WITHIN:?}: {last}"))
}

/// One fault of the cycle; returns what it did, for the log.
async fn inject(stack: &mut Stack, step: usize) -> String {
    let step = step % 6;
    let result = match step {
        0 => {
            stack.kill_agent("main").expect("kill the agent");
            tokio::time::sleep(Duration::from_millis(800)).await;
            stack
                .start_agent("main")
                .map(|()| "agent SIGKILLed and restarted")
        }
        1 => stack
            .sim("main", 0)
            .expect("modem 0")
            .fail_sends(5, SendFault::Busy)
            .await
            .map(|()| "modem 0 answers busy to the next 5 sends"),
        2 => stack
            .restart_broker()
            .await
            .map(|()| "broker killed and restarted"),
        3 => stack
            .sim("main", 1)
            .expect("modem 1")
            .expire_sessions()
            .await
            .map(|()| "modem 1 expired its sessions"),
        4 => stack
            .restart_api()
            .await
            .map(|()| "API killed and restarted"),
        _ => stack
            .sim("main", 0)
            .expect("modem 0")
            .offline(Availability::Refuse, Some(Duration::from_secs(3)))
            .await
            .map(|()| "modem 0 offline for 3 s"),
    };
    result
        .unwrap_or_else(|e| panic!("fault {step}: {e}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_message_is_lost_or_sent_twice_through_kills_restarts_and_modem_faults() {
    let total = setting("SMSGW_CHAOS_MESSAGES", 500);
    let rate = setting("SMSGW_CHAOS_RATE", 25);
    let mut stack = start(
        Stack::builder()
            .site(SiteSpec::new("main", 2))
            // Faults cost attempts; none of them may fail a message for good.
            .max_attempts(50),
    )
    .await;
    let api = stack.api();
    let run = format!("{:08x}", rand_u32());

    // The clients: `rate` new messages a second, each retried until accepted.
    let sender = {
        let api = api.clone();
        let run = run.clone();
        tokio::spawn(async move {
            let permits = Arc::new(Semaphore::new(CLIENTS));
            let mut tick = tokio::time::interval(Duration::from_secs(1) / rate as u32);
            let mut clients = JoinSet::new();
            for index in 0..total {
                tick.tick().await;
                let permit = permits.clone().acquire_owned().await.expect("semaphore");
                let (api, run) = (api.clone(), run.clone());
                clients.spawn(async move {
                    let result = submit(api, run, index).await;
                    drop(permit);
                    (index, result)
                });
            }
            let mut ids = BTreeMap::new();
            while let Some(joined) = clients.join_next().await {
                let (index, result) = joined.expect("client task");
                ids.insert(index, result);
            }
            ids
        })
    };

    // The faults, one every two seconds, a whole cycle at least, for as long as messages
    // are being sent.
    let began = Instant::now();
    let mut step = 0;
    while step < 6 || !sender.is_finished() {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let done = inject(&mut stack, step).await;
        eprintln!("chaos {:>6.1} s: {done}", began.elapsed().as_secs_f64());
        step += 1;
    }
    let calm = Instant::now();
    let ids = sender.await.expect("sender");
    let refused: Vec<_> = ids.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(refused.is_empty(), "not accepted: {refused:?}");
    let ids: BTreeMap<u64, String> = ids
        .into_iter()
        .filter_map(|(i, r)| r.ok().map(|id| (i, id)))
        .collect();

    // Recovery: every message settles.
    let terminal = [
        MessageState::Delivered,
        MessageState::Failed,
        MessageState::Expired,
        MessageState::Canceled,
    ];
    let mut statuses: HashMap<String, MessageState>;
    let mut backlog_at_calm = None;
    loop {
        statuses = api
            .list_all("direction=outbound")
            .await
            .expect("list")
            .iter()
            .filter_map(|m| {
                Some((
                    m["id"].as_str()?.to_owned(),
                    m["status"].as_str()?.parse().ok()?,
                ))
            })
            .collect();
        let settled = ids
            .values()
            .filter(|id| statuses.get(*id).is_some_and(|s| terminal.contains(s)))
            .count();
        // What was still on its way when the faults stopped: recovery includes draining it.
        backlog_at_calm.get_or_insert(ids.len() - settled);
        if settled == ids.len() {
            break;
        }
        assert!(
            calm.elapsed() < RECOVER_WITHIN,
            "{settled} of {} messages settled {RECOVER_WITHIN:?} after the last fault",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let recovery = calm.elapsed();

    // The network's side: each text on the ledgers of both modems.
    let mut on_air: HashMap<String, usize> = HashMap::new();
    for entry in stack.ledger().await.expect("ledgers") {
        *on_air.entry(entry.text).or_default() += 1;
    }
    let texts: HashMap<String, u64> = ids
        .keys()
        .map(|i| (format!("chaos {run} {i}"), *i))
        .collect();
    let ledger_unique = texts.keys().filter(|t| on_air.contains_key(*t)).count();
    let duplicates: usize = on_air.values().map(|n| n - 1).sum();
    let strangers = on_air.keys().filter(|t| !texts.contains_key(*t)).count();
    let lost: Vec<u64> = texts
        .iter()
        .filter(|(t, _)| !on_air.contains_key(*t))
        .map(|(_, i)| *i)
        .collect();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for id in ids.values() {
        *by_status
            .entry(statuses.get(id).map(|s| s.to_string()).unwrap_or_default())
            .or_default() += 1;
    }

    eprintln!(
        "\n| chaos run ({} faults) | value |\n|---|---|\n\
         | submitted | {} |\n| accepted by the API | {} |\n| ledger-unique | {ledger_unique} |\n\
         | duplicates at the ledger | {duplicates} |\n| lost | {} |\n| terminal statuses | {by_status:?} |\n\
         | not yet settled at the last fault | {} |\n\
         | recovery after the last fault (all settled) | {:.1} s |\n",
        step,
        total,
        ids.len(),
        lost.len(),
        backlog_at_calm.unwrap_or_default(),
        recovery.as_secs_f64()
    );
    assert_eq!(ids.len() as u64, total, "every message accepted");
    assert_eq!(duplicates, 0, "no SMS on the air twice");
    assert_eq!(strangers, 0, "nothing on the air that was not submitted");
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert_eq!(ledger_unique, ids.len());
    assert_eq!(
        by_status.get("delivered").copied().unwrap_or(0),
        ids.len(),
        "every message delivered: {by_status:?}"
    );
}

fn rand_u32() -> u32 {
    use rand::RngExt;
    rand::rng().random()
}
