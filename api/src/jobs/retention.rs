//! Retention: finished messages with their history, inbound SMS and dead letters older
//! than `SMSGW_RETENTION_DAYS` are deleted (0 keeps everything). Every replica runs this
//! loop; each batch is a short transaction that claims its rows with `SKIP LOCKED`
//! ([`store::retention`]), so replicas share a backlog without waiting for each other, and
//! a pause after each batch, [`PACE`] times as long as the batch took, leaves most of the
//! database to the sends, which never wait for a purge.

use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::store;

/// How often a replica looks for rows past their retention.
pub const INTERVAL: Duration = Duration::from_secs(300);
/// Rows per batch (messages, each with its history; or dead letters).
pub const BATCH: i64 = 500;
/// A full batch is followed by a pause this many times as long as the batch took: a purge
/// keeps the database busy at most a fifth of the time, and the busier the database (the
/// slower a batch), the slower the purge goes.
pub const PACE: u32 = 4;
/// The shortest pause after a full batch.
pub const MIN_PAUSE: Duration = Duration::from_millis(10);

/// What one batch deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Messages (with their history).
    pub messages: u64,
    /// Dead letters.
    pub dead_letters: u64,
}

impl Purged {
    fn full(&self, batch: i64) -> bool {
        let batch = u64::try_from(batch).unwrap_or(0);
        self.messages >= batch || self.dead_letters >= batch
    }
}

/// One batch of each kind, in one short transaction. A purge lost in a crash is simply
/// done again, so its commit does not wait for the disk (`synchronous_commit = off`),
/// leaving the WAL flushes to the sends.
pub async fn purge_batch(db: &PgPool, days: u32, batch: i64) -> Result<Purged, sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query!("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    let purged = Purged {
        messages: store::retention::purge_messages(&mut tx, days, batch).await?,
        dead_letters: store::retention::purge_dead_letters(&mut tx, days, batch).await?,
    };
    tx.commit().await?;
    metrics::counter!("smsgw_retention_deleted_total", "kind" => "messages")
        .increment(purged.messages);
    metrics::counter!("smsgw_retention_deleted_total", "kind" => "dead_letters")
        .increment(purged.dead_letters);
    Ok(purged)
}

/// Purges batch after batch until nothing is past its retention, pausing after each full
/// batch `pace` times as long as it took (at least [`MIN_PAUSE`]; `pace` 0: no pause);
/// returns everything deleted.
pub async fn purge_all(
    db: &PgPool,
    days: u32,
    batch: i64,
    pace: u32,
) -> Result<Purged, sqlx::Error> {
    let mut total = Purged::default();
    loop {
        let started = Instant::now();
        let purged = purge_batch(db, days, batch).await?;
        total.messages += purged.messages;
        total.dead_letters += purged.dead_letters;
        if !purged.full(batch) {
            return Ok(total);
        }
        if pace > 0 {
            tokio::time::sleep((started.elapsed() * pace).max(MIN_PAUSE)).await;
        }
    }
}

/// Purges every `every`, forever; `days` 0 keeps everything (the loop is not started). A
/// failed pass is logged and retried next time.
pub async fn run(db: PgPool, days: u32, every: Duration) {
    if days == 0 {
        return;
    }
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match purge_all(&db, days, BATCH, PACE).await {
            Ok(purged) if purged != Purged::default() => {
                tracing::info!(
                    ?purged,
                    days,
                    "retention: deleted rows past their retention"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention failed; retrying later"),
        }
    }
}
