//! The circuit breaker of one modem: after `threshold` consecutive failures of the kind
//! that say "the modem is not working" (transport errors, busy streaks) it opens, the
//! sender stops sending to that modem and routes its work elsewhere, and after `open_for`
//! one probe request decides whether it closes again.

use std::time::Duration;

use smsgw_shared::wire::Circuit;
use tokio::time::Instant;

/// Breaker state of one modem.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    open_for: Duration,
    failures: u32,
    opened_at: Option<Instant>,
    probing: bool,
}

impl Breaker {
    /// A closed breaker that opens after `threshold` consecutive failures.
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            open_for,
            failures: 0,
            opened_at: None,
            probing: false,
        }
    }

    /// The state to publish.
    pub fn state(&self, now: Instant) -> Circuit {
        match self.opened_at {
            None => Circuit::Closed,
            Some(_) if self.probing => Circuit::HalfOpen,
            Some(at) if now >= at + self.open_for => Circuit::HalfOpen,
            Some(_) => Circuit::Open,
        }
    }

    /// Whether a request may go to the modem now. In the half-open state only one probe
    /// is let through until its outcome is recorded.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state(now) {
            Circuit::Closed => true,
            Circuit::Open => false,
            Circuit::HalfOpen if self.probing => false,
            Circuit::HalfOpen => {
                self.probing = true;
                true
            }
        }
    }

    /// When an open breaker lets a probe through.
    pub fn retry_at(&self) -> Option<Instant> {
        self.opened_at.map(|at| at + self.open_for)
    }

    /// The modem answered properly.
    pub fn success(&mut self) {
        self.failures = 0;
        self.opened_at = None;
        self.probing = false;
    }

    /// The modem failed in a way that counts against it.
    pub fn failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        if self.probing || self.failures >= self.threshold {
            self.opened_at = Some(now);
        }
        self.probing = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_probes_once() {
        let t0 = Instant::now();
        let mut b = Breaker::new(3, Duration::from_secs(10));
        assert!(b.allow(t0));
        b.failure(t0);
        b.failure(t0);
        assert_eq!(b.state(t0), Circuit::Closed);
        b.failure(t0);
        assert_eq!(b.state(t0), Circuit::Open);
        assert!(!b.allow(t0 + Duration::from_secs(9)));
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(b.state(t1), Circuit::HalfOpen);
        assert!(b.allow(t1), "one probe");
        assert!(!b.allow(t1), "only one probe");
        b.failure(t1);
        assert_eq!(b.state(t1), Circuit::Open, "a failed probe opens again");
        let t2 = t1 + Duration::from_secs(10);
        assert!(b.allow(t2));
        b.success();
        assert_eq!(b.state(t2), Circuit::Closed);
        assert!(b.allow(t2) && b.allow(t2));
    }

    #[test]
    fn a_success_resets_the_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(2, Duration::from_secs(1));
        b.failure(t0);
        b.success();
        b.failure(t0);
        assert_eq!(b.state(t0), Circuit::Closed);
    }
}
