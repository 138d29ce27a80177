//! `cargo bench -p smsgw-api`: accepted `POST /api/v1/messages` per second and latency
//! p50/p99 with N concurrent clients, next to a raw single-row sqlx insert on the same
//! database in the same run, and their ratio. Not a test: it prints a table.
//!
//! `SMSGW_BENCH_CLIENTS` (default 16) and `SMSGW_BENCH_SECS` (default 10) tune it; the
//! database is found like the tests find theirs (`tests/api/helpers.rs`, `smsgw-testpg`).

#[allow(dead_code)]
#[path = "../tests/api/helpers.rs"]
mod helpers;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Throughput and latency of one run.
struct Run {
    ok: usize,
    failed: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[i]
    }
}

/// Runs `op` from `clients` tasks for `duration`.
async fn drive<F, Fut>(clients: u64, duration: Duration, op: F) -> Run
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let op = op.clone();
            tokio::spawn(async move {
                let (mut ok, mut failed, mut latencies) = (0, 0, Vec::new());
                while start.elapsed() < duration {
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

async fn raw_insert(db: PgPool, owner: i64) -> bool {
    sqlx::query(
        "INSERT INTO messages (id, direction, site_id, phone, content, encoding, segments, status,
                               owner_key_id, queued_at, next_dispatch_at)
         VALUES ($1, 'outbound', 'main', '+33612345678', 'benchmark', 'gsm7', 1, 'queued', $2,
                 now(), now())",
    )
    .bind(Uuid::now_v7())
    .bind(owner)
    .execute(&db)
    .await
    .is_ok()
}

fn row(name: &str, run: &Run) {
    println!(
        "| {name:<28} | {:>10.0} | {:>8.2} | {:>8.2} | {:>7} | {:>6} |",
        run.per_second(),
        run.percentile(0.50).as_secs_f64() * 1000.0,
        run.percentile(0.99).as_secs_f64() * 1000.0,
        run.ok,
        run.failed
    );
}

fn main() {
    let clients = env_number("SMSGW_BENCH_CLIENTS", 16);
    let duration = Duration::from_secs(env_number("SMSGW_BENCH_SECS", 10));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let app = helpers::spawn_app().await;
        let key = app.with_site_and_key().await;
        sqlx::query("UPDATE api_keys SET rate_limit = 2000000000")
            .execute(&app.db)
            .await
            .expect("unlimited key");
        let owner: i64 = sqlx::query_scalar("SELECT id FROM api_keys")
            .fetch_one(&app.db)
            .await
            .expect("key id");

        let client = reqwest::Client::new();
        let url = format!("{}/api/v1/messages", app.address);
        let body = json!({"phone": "+33612345678", "content": "benchmark"});
        let send = {
            let (client, url, key, body) = (client.clone(), url.clone(), key.clone(), body.clone());
            move || {
                let request = client
                    .post(&url)
                    .header("x-api-key", &key)
                    .json(&body)
                    .send();
                async move { matches!(request.await, Ok(r) if r.status() == 201) }
            }
        };
        // Warm up connections and caches.
        drive(clients, Duration::from_secs(1), send.clone()).await;

        let db = app.db.clone();
        let baseline = drive(clients, duration, move || raw_insert(db.clone(), owner)).await;
        let api = drive(clients, duration, send).await;

        println!(
            "\nsmsgw-api send benchmark: {clients} clients, {} s each, debug={}\n",
            duration.as_secs(),
            cfg!(debug_assertions)
        );
        println!(
            "| what                         |      per s |  p50 ms |  p99 ms |      ok | failed |"
        );
        println!(
            "|------------------------------|-----------:|--------:|--------:|--------:|-------:|"
        );
        row("POST /api/v1/messages", &api);
        row("raw sqlx INSERT (baseline)", &baseline);
        let ratio = api.per_second() / baseline.per_second().max(f64::MIN_POSITIVE);
        println!("\nratio API / baseline: {ratio:.2} (target ≥ 0.5)");
        // The summary rows `bench/all.sh` gathers into BENCHMARKS.md.
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("\n| measure | value | target | |");
        println!("|---|---|---|---|");
        println!(
            "| accepted POST /api/v1/messages, {clients} clients | {:.0} /s | | |",
            api.per_second()
        );
        println!(
            "| accept throughput / raw single-row insert (same run) | {ratio:.2} | ≥ 0.5 | {} |",
            if ratio >= 0.5 { "ok" } else { "MISSED" }
        );
        println!(
            "| accept latency p50 / p99 | {:.2} / {:.2} ms | | |",
            ms(api.percentile(0.50)),
            ms(api.percentile(0.99))
        );
        println!();
    });
}
