//! `cargo bench -p smsgw-api --bench retention`: does retention leave sending alone? A
//! database holds N old finished messages (default 1,000,000, each with a history entry);
//! accepted `POST /api/v1/messages` per second is measured with nothing else running,
//! then while the retention job (`jobs::retention::purge_all`, what every replica runs)
//! deletes every one of those messages, then again once it is done, in the same run.
//! Prints the three rates, the ratio of the rate during the purge to the mean of the
//! others (target ≥ 0.8) and the purge rate. Not a test: it prints a table.
//!
//! `SMSGW_BENCH_RETENTION_ROWS` (default 1000000), `SMSGW_BENCH_CLIENTS` (16) and
//! `SMSGW_BENCH_SECS` (10, the first phase) tune it.

#[allow(dead_code)]
mod common;
#[allow(dead_code)]
#[path = "../tests/api/helpers.rs"]
mod helpers;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use smsgw_api::jobs::retention;
use sqlx::PgPool;

use common::{
    Load, drive, drive_while, env_number, runtime, sender, summary_header, table, unlimited_key,
};

/// Old messages inserted per statement while seeding.
const SEED_CHUNK: u64 = 100_000;

/// Inserts `rows` delivered messages of `owner`, 400 days old, each with one history
/// entry.
async fn seed(db: &PgPool, owner: i64, rows: u64) {
    let mut done = 0;
    while done < rows {
        let n = SEED_CHUNK.min(rows - done);
        sqlx::query(
            "WITH made AS (
                 INSERT INTO messages (id, direction, site_id, phone, content, encoding, segments,
                                       status, owner_key_id, created_at, delivered_at)
                 SELECT gen_random_uuid(), 'outbound', 'main', '+33612345678', 'old', 'gsm7', 1,
                        'delivered', $1, now() - interval '400 days' + i * interval '1 ms',
                        now() - interval '400 days'
                 FROM generate_series(1, $2::bigint) AS i
                 RETURNING id)
             INSERT INTO message_events (event_id, message_id, state, source, at, applied)
             SELECT gen_random_uuid(), id, 'delivered', 'agent', now() - interval '400 days', true
             FROM made",
        )
        .bind(owner)
        .bind(i64::try_from(n).unwrap_or(i64::MAX))
        .execute(db)
        .await
        .expect("seed");
        done += n;
    }
    sqlx::query("ANALYZE messages")
        .execute(db)
        .await
        .expect("analyze");
    sqlx::query("ANALYZE message_events")
        .execute(db)
        .await
        .expect("analyze");
}

fn main() {
    let rows = env_number("SMSGW_BENCH_RETENTION_ROWS", 1_000_000);
    let Load { clients, duration } = Load::from_env();
    runtime().block_on(async move {
        // A database of its own, dropped at the end (it grows large). The test apps keep
        // everything: the purge below is the only one.
        let (database, url) = smsgw_testpg::create_database("smsgw_test_")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let app = helpers::spawn_app_on(&url).await;
        let (key, owner) = unlimited_key(&app).await;
        let seeding = Instant::now();
        seed(&app.db, owner, rows).await;
        let seeded_in = seeding.elapsed();
        let send = sender(&app, &key);
        drive(clients, Duration::from_secs(1), send.clone()).await;

        let before = drive(clients, duration, send.clone()).await;

        let running = Arc::new(AtomicBool::new(true));
        let purge = {
            let (db, running) = (app.db.clone(), running.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let purged =
                    retention::purge_all(&db, 365, retention::BATCH, retention::PACE).await;
                running.store(false, Ordering::SeqCst);
                (purged, started.elapsed())
            })
        };
        let during = drive_while(clients, running, send.clone()).await;
        let (purged, purge_time) = purge.await.expect("the purge task");
        // The same again once the purge is done: on a shared machine the load of others
        // changes during a long run, and the table has grown by what was sent meanwhile.
        let after = drive(clients, duration, send).await;
        let purged = purged.expect("the purge");
        let left: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM messages WHERE created_at < now() - interval '365 days'",
        )
        .fetch_one(&app.db)
        .await
        .expect("count");

        println!(
            "\nsmsgw-api retention benchmark: {rows} old messages (each with a history entry, seeded in {:.1} s), {clients} clients, debug={}\n",
            seeded_in.as_secs_f64(),
            cfg!(debug_assertions)
        );
        table(&[
            ("sends before the purge", &before),
            ("sends during the purge", &during),
            ("sends after the purge", &after),
        ]);
        let baseline = (before.per_second() + after.per_second()) / 2.0;
        let ratio = during.per_second() / baseline.max(f64::MIN_POSITIVE);
        let purge_rate = purged.messages as f64 / purge_time.as_secs_f64();
        println!(
            "\npurge: {} messages (and their history) in {:.1} s, {purge_rate:.0} messages/s, batches of {} each followed by a pause {}× as long; {left} left",
            purged.messages,
            purge_time.as_secs_f64(),
            retention::BATCH,
            retention::PACE
        );
        println!("ratio during / mean of before and after: {ratio:.2} (target ≥ 0.8)");
        summary_header();
        println!(
            "| accepted sends during a purge of {rows} old messages / before and after it (same run) | {ratio:.2} | ≥ 0.8 | {} |",
            if ratio >= 0.8 && left == 0 { "ok" } else { "MISSED" }
        );
        println!(
            "| purge rate while sending ({} messages with their history in {:.0} s) | {purge_rate:.0} /s | | |",
            purged.messages,
            purge_time.as_secs_f64()
        );
        println!();
        app.db.close().await;
        smsgw_testpg::drop_database(&database).await;
    });
}
