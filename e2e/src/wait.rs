//! Waiting for a condition by polling it: end-to-end tests on a loaded machine must never
//! assert after a fixed sleep, only wait (generously) for what they expect to become true.

use std::{future::Future, time::Duration};

use tokio::time::Instant;

use crate::E2eError;

/// How often a condition is polled.
pub const POLL: Duration = Duration::from_millis(150);

/// Polls `probe` until it returns `Some`, for at most `within`. The error names `what`
/// and the `Debug` of the last value `probe` described (its `Err`), so that a timeout
/// says what was seen instead.
pub async fn eventually<T, D, F, Fut>(
    within: Duration,
    what: &str,
    mut probe: F,
) -> Result<T, E2eError>
where
    D: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, D>>,
{
    let deadline = Instant::now() + within;
    loop {
        let last = match probe().await {
            Ok(value) => return Ok(value),
            Err(last) => last,
        };
        if Instant::now() >= deadline {
            return Err(E2eError::Timeout {
                what: format!("{what} (last seen: {last:?})"),
                within,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}
