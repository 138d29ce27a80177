//! What the API benchmarks share: settings from the environment, a load driver that runs
//! an operation from N concurrent clients and measures it, the send operation itself, and
//! the table row that prints a run.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;

use crate::helpers::TestApp;

/// A number from the environment, or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The load every benchmark drives: `SMSGW_BENCH_CLIENTS` concurrent clients (16) for
/// `SMSGW_BENCH_SECS` seconds (10) a run.
pub struct Load {
    pub clients: u64,
    pub duration: Duration,
}

impl Load {
    pub fn from_env() -> Self {
        Self {
            clients: env_number("SMSGW_BENCH_CLIENTS", 16),
            duration: Duration::from_secs(env_number("SMSGW_BENCH_SECS", 10)),
        }
    }
}

/// The multi-threaded runtime a benchmark runs on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Throughput and latency of one run.
pub struct Run {
    pub ok: usize,
    pub failed: usize,
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
}

impl Run {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[i]
    }
}

/// Runs `op` from `clients` tasks for `duration`.
pub async fn drive<F, Fut>(clients: u64, duration: Duration, op: F) -> Run
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let running = Arc::new(AtomicBool::new(true));
    let timer = {
        let running = running.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            running.store(false, Ordering::SeqCst);
        })
    };
    let run = drive_while(clients, running, op).await;
    timer.abort();
    run
}

/// Runs `op` from `clients` tasks while `running` is true.
pub async fn drive_while<F, Fut>(clients: u64, running: Arc<AtomicBool>, op: F) -> Run
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (op, running) = (op.clone(), running.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed, mut latencies) = (0, 0, Vec::new());
                while running.load(Ordering::SeqCst) {
                    let t = Instant::now();
                    if op().await {
                        ok += 1;
                        latencies.push(t.elapsed());
                    } else {
                        failed += 1;
                    }
                }
                (ok, failed, latencies)
            })
        })
        .collect();
    let mut run = Run {
        ok: 0,
        failed: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        if let Ok((ok, failed, latencies)) = task.await {
            run.ok += ok;
            run.failed += failed;
            run.latencies.extend(latencies);
        }
    }
    run.elapsed = start.elapsed();
    run.latencies.sort();
    run
}

/// A site `main` and a key without a practical rate limit: the key and its row id.
pub async fn unlimited_key(app: &TestApp) -> (String, i64) {
    let key = app.with_site_and_key().await;
    sqlx::query("UPDATE api_keys SET rate_limit = 2000000000")
        .execute(&app.db)
        .await
        .expect("unlimited key");
    let owner: i64 = sqlx::query_scalar("SELECT id FROM api_keys")
        .fetch_one(&app.db)
        .await
        .expect("key id");
    (key, owner)
}

/// `POST /api/v1/messages` with `key`, as an operation for [`drive`]: true when accepted.
pub fn sender(
    app: &TestApp,
    key: &str,
) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync + Clone + 'static
{
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/messages", app.address);
    let key = key.to_owned();
    let body = json!({"phone": "+33612345678", "content": "benchmark"});
    move || {
        let request = client
            .post(&url)
            .header("x-api-key", &key)
            .json(&body)
            .send();
        Box::pin(async move { matches!(request.await, Ok(r) if r.status() == 201) })
    }
}

/// The table of runs, each with its name.
pub fn table(runs: &[(&str, &Run)]) {
    println!(
        "| what                         |      per s |  p50 ms |  p99 ms |      ok | failed |"
    );
    println!(
        "|------------------------------|-----------:|--------:|--------:|--------:|-------:|"
    );
    for (name, run) in runs {
        println!(
            "| {name:<28} | {:>10.0} | {:>8.2} | {:>8.2} | {:>7} | {:>6} |",
            run.per_second(),
            run.percentile(0.50).as_secs_f64() * 1000.0,
            run.percentile(0.99).as_secs_f64() * 1000.0,
            run.ok,
            run.failed
        );
    }
}

/// The start of the summary table `bench/all.sh` gathers into BENCHMARKS.md.
pub fn summary_header() {
    println!("\n| measure | value | target | |");
    println!("|---|---|---|---|");
}
