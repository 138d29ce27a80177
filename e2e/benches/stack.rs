//! `cargo bench -p smsgw-e2e --bench stack`: the whole gateway as separate release
//! processes (broker, API, one simulated modem and its agent), measured from outside as a
//! user sees it. Not a test: it prints a table.
//!
//! - API start → ready: the API process is killed and started again; the time until
//!   `/readyz` answers 200 (database and broker connected). Median of three.
//! - accept → modem: `POST /api/v1/messages` returns, then the SMS appears in the
//!   simulated network's ledger (polled every 10 ms), for messages sent at half the
//!   modem's budget, so the time is the path's, not a queue's.
//! - resident memory (VmRSS) of the API, the broker and the agent, idle and right after a
//!   burst of `SMSGW_BENCH_BURST` (default 2,000) messages from 16 clients.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::json;
use smsgw_e2e::{SiteSpec, Stack};

/// Messages of the latency run, and their pace (the modem's budget is twice that).
const LATENCY_MESSAGES: usize = 100;
const PACE: Duration = Duration::from_millis(200);
const MODEM_PER_MINUTE: u32 = 600;

/// Resident memory of a process, in MB.
fn rss_mb(pid: Option<u32>) -> f64 {
    let Some(pid) = pid else { return f64::NAN };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `(api, broker, agent)` resident memory.
fn memory(stack: &Stack) -> (f64, f64, f64) {
    let pids = stack.pids();
    let agent = pids.agents.first().and_then(|(_, pid)| *pid);
    (rss_mb(pids.api), rss_mb(pids.broker), rss_mb(agent))
}

#[tokio::main]
async fn main() {
    let burst: usize = std::env::var("SMSGW_BENCH_BURST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let mut stack = Stack::builder()
        .site(SiteSpec::new("main", 1).budget(MODEM_PER_MINUTE, 0))
        .start()
        .await
        .expect("the stack starts");

    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle = memory(&stack);

    let mut starts = Vec::new();
    for _ in 0..3 {
        let t0 = Instant::now();
        stack.restart_api().await.expect("the API comes back");
        starts.push(t0.elapsed());
    }
    starts.sort();
    let start_to_ready = starts[1];
    // The agent is online again for the new API process before the latency run.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Accept -> modem: one watcher polls the ledger and notes when each text appears.
    let seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let sim = stack.sim("main", 0).expect("modem").clone();
    let watcher = {
        let seen = seen.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(ledger) = sim.ledger().await {
                    let now = Instant::now();
                    let mut seen = seen.lock().expect("lock");
                    for entry in ledger {
                        seen.entry(entry.text).or_insert(now);
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let api = stack.api();
    let mut posted = Vec::with_capacity(LATENCY_MESSAGES);
    let mut ticker = tokio::time::interval(PACE);
    for i in 0..LATENCY_MESSAGES {
        ticker.tick().await;
        let text = format!("latency {i}");
        let answer = api
            .send(&json!({"phone": "+33612345678", "content": text}))
            .await
            .expect("send");
        answer.expect_status(201).expect("accepted");
        posted.push((text, Instant::now()));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.lock().expect("lock").len() < LATENCY_MESSAGES && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    watcher.abort();
    let seen = seen.lock().expect("lock").clone();
    let mut latencies: Vec<Duration> = posted
        .iter()
        .filter_map(|(text, at)| seen.get(text).map(|s| s.saturating_duration_since(*at)))
        .collect();
    latencies.sort();

    // A burst from 16 clients, then memory while everything holds it.
    let t0 = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let api = api.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut ok = 0usize;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= burst {
                        return ok;
                    }
                    let body = json!({"phone": "+33612345678", "content": format!("burst {i}")});
                    if let Ok(answer) = api.send(&body).await
                        && answer.expect_status(201).is_ok()
                    {
                        ok += 1;
                    }
                }
            })
        })
        .collect();
    let mut accepted = 0;
    for client in clients {
        accepted += client.await.unwrap_or(0);
    }
    let burst_time = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = memory(&stack);

    println!(
        "\nsmsgw stack benchmark: release processes, 1 site, 1 simulated modem at {MODEM_PER_MINUTE}/min"
    );
    println!("\n| measure | value | target | |");
    println!("|---|---|---|---|");
    println!(
        "| API start → ready (process start to /readyz 200, median of 3) | {:.0} ms | | |",
        ms(start_to_ready)
    );
    println!(
        "| accept → modem p50 / p99 ({} of {LATENCY_MESSAGES} SMS, one every {} ms) | {:.0} / {:.0} ms | | |",
        latencies.len(),
        PACE.as_millis(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99))
    );
    println!(
        "| RSS idle: API / broker / agent | {:.1} / {:.1} / {:.1} MB | agent ≤ 15 MB | {} |",
        idle.0,
        idle.1,
        idle.2,
        if idle.2 <= 15.0 { "ok" } else { "MISSED" }
    );
    println!(
        "| RSS after a burst of {accepted} accepted sends ({:.0}/s, 16 clients): API / broker / agent | {:.1} / {:.1} / {:.1} MB | | |",
        accepted as f64 / burst_time.as_secs_f64(),
        loaded.0,
        loaded.1,
        loaded.2
    );
    println!();
}
