//! The send budget of one modem: at most `max_per_minute` sends in any 60 seconds, and at
//! least `min_gap` between two sends.
//!
//! Operators block SIMs that send in bursts, and HiLink answers 113004 when sends come too
//! close; the sender asks the budget when it may send next instead of finding out from
//! the modem.

use std::{collections::VecDeque, time::Duration};

use tokio::time::Instant;

/// The window `max_per_minute` counts over.
const WINDOW: Duration = Duration::from_secs(60);

/// Sends of the last minute of one modem.
#[derive(Debug)]
pub struct Budget {
    max_per_minute: usize,
    min_gap: Duration,
    recent: VecDeque<Instant>,
}

impl Budget {
    /// A budget of `max_per_minute` (at least 1) with `min_gap` between sends.
    pub fn new(max_per_minute: u32, min_gap: Duration) -> Self {
        let max_per_minute = usize::try_from(max_per_minute.max(1)).unwrap_or(usize::MAX);
        Self {
            max_per_minute,
            min_gap,
            recent: VecDeque::with_capacity(max_per_minute.min(1024)),
        }
    }

    /// The earliest instant the next send may start (now or later).
    pub fn next_slot(&self, now: Instant) -> Instant {
        let mut slot = now;
        if let Some(&last) = self.recent.back() {
            slot = slot.max(last + self.min_gap);
        }
        if self.recent.len() >= self.max_per_minute {
            // The oldest send of a full window must leave it first.
            let oldest = self.recent[self.recent.len() - self.max_per_minute];
            slot = slot.max(oldest + WINDOW);
        }
        slot
    }

    /// Records a send that started at `at`.
    pub fn record(&mut self, at: Instant) {
        self.recent.push_back(at);
        while self.recent.len() > self.max_per_minute {
            self.recent.pop_front();
        }
        while self.recent.front().is_some_and(|&t| t + WINDOW <= at) {
            self.recent.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_sends_by_the_gap_and_the_minute() {
        let start = Instant::now();
        let mut budget = Budget::new(6, Duration::from_secs(2));
        let mut now = start;
        let mut sends = Vec::new();
        for _ in 0..13 {
            now = budget.next_slot(now);
            budget.record(now);
            sends.push(now - start);
        }
        // Six sends 2 s apart, then the seventh waits for the first to leave the window.
        let secs: Vec<u64> = sends.iter().map(|d| d.as_secs()).collect();
        assert_eq!(secs, [0, 2, 4, 6, 8, 10, 60, 62, 64, 66, 68, 70, 120]);
        for pair in sends.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_secs(2));
        }
        for window in sends.windows(7) {
            assert!(window[6] - window[0] >= WINDOW, "7 sends inside a minute");
        }
    }

    #[test]
    fn an_idle_modem_may_send_at_once() {
        let start = Instant::now();
        let mut budget = Budget::new(6, Duration::from_millis(2000));
        assert_eq!(budget.next_slot(start), start);
        budget.record(start);
        let later = start + Duration::from_secs(5);
        assert_eq!(budget.next_slot(later), later);
    }
}
