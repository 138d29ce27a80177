//! Housekeeping: expire messages that never left the API, and delete rate-limit windows
//! that have ended, idempotency records past their lifetime, login counters that are
//! forgotten and admin sessions that ended.

use std::time::Duration;

use sqlx::PgPool;

use crate::store;

/// How often housekeeping runs.
pub const INTERVAL: Duration = Duration::from_secs(60);
/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Messages marked `expired`.
    pub expired: u64,
    /// Rate-limit windows deleted.
    pub windows: u64,
    /// Idempotency records deleted.
    pub idempotency_records: u64,
    /// Login attempt counters deleted.
    pub login_counters: u64,
    /// Ended admin sessions deleted.
    pub sessions: u64,
}

/// One pass.
pub async fn run_once(db: &PgPool) -> Result<Swept, sqlx::Error> {
    let mut conn = db.acquire().await?;
    Ok(Swept {
        expired: store::dispatch::expire_undispatched(&mut conn).await?,
        windows: store::rate_limit::delete_ended_windows(&mut conn).await?,
        idempotency_records: store::idempotency::delete_older_than(
            &mut conn,
            IDEMPOTENCY_TTL.as_secs_f64(),
        )
        .await?,
        login_counters: store::logins::delete_stale(&mut conn).await?,
        sessions: store::sessions::delete_ended(&mut conn).await?,
    })
}

/// Runs a pass every `every`, forever; a failed pass is logged and retried next time.
pub async fn run(db: PgPool, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match run_once(&db).await {
            Ok(swept) if swept != Swept::default() => tracing::info!(?swept, "housekeeping"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "housekeeping failed; retrying later"),
        }
    }
}
