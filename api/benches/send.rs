//! `cargo bench -p smsgw-api`: accepted `POST /api/v1/messages` per second and latency
//! p50/p99 with N concurrent clients, next to a raw single-row sqlx insert on the same
//! database in the same run, and their ratio. Not a test: it prints a table.
//!
//! `SMSGW_BENCH_CLIENTS` (default 16) and `SMSGW_BENCH_SECS` (default 10) tune it; the
//! database is found like the tests find theirs (`tests/api/helpers.rs`, `smsgw-testpg`).

#[allow(dead_code)]
mod common;
#[allow(dead_code)]
#[path = "../tests/api/helpers.rs"]
mod helpers;

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use common::{Load, drive, runtime, sender, summary_header, table, unlimited_key};

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

fn main() {
    let Load { clients, duration } = Load::from_env();
    runtime().block_on(async move {
        let app = helpers::spawn_app().await;
        let (key, owner) = unlimited_key(&app).await;
        let send = sender(&app, &key);
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
        table(&[
            ("POST /api/v1/messages", &api),
            ("raw sqlx INSERT (baseline)", &baseline),
        ]);
        let ratio = api.per_second() / baseline.per_second().max(f64::MIN_POSITIVE);
        println!("\nratio API / baseline: {ratio:.2} (target ≥ 0.5)");
        // The summary rows `bench/all.sh` gathers into BENCHMARKS.md.
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        summary_header();
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
