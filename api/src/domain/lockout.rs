//! How long failed admin logins lock further attempts out. Every attempt is counted when
//! it starts (and forgotten when it succeeds), per user name and per client address; from
//! a number of failures on, each one locks the next attempt out for twice as long as the
//! one before, up to a ceiling. Guessing thus costs hours per few dozen passwords,
//! while an administrator who mistypes a few times waits seconds.

use std::time::Duration;

/// The lock-out rule of one kind of counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// The failure that locks first: the ones before lock nothing.
    pub locks_from: u32,
    /// The lock after the first failure beyond the free ones.
    pub first_lock: Duration,
    /// The longest lock.
    pub max_lock: Duration,
}

/// Per user name: an attacker knows the user names, so few failures are free.
pub const PER_USER: LockoutPolicy = LockoutPolicy {
    locks_from: 5,
    first_lock: Duration::from_secs(30),
    max_lock: Duration::from_secs(15 * 60),
};

/// Per client address: several administrators may share one (a NAT), so more failures
/// are free; it stops one address from spraying many user names.
pub const PER_ADDRESS: LockoutPolicy = LockoutPolicy {
    locks_from: 20,
    first_lock: Duration::from_secs(30),
    max_lock: Duration::from_secs(15 * 60),
};

/// A counter with no attempt for this long starts again from zero.
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

impl LockoutPolicy {
    /// The lock that follows attempt number `failures` (counted from 1) if it fails:
    /// `None` before [`locks_from`](Self::locks_from).
    pub fn lock_after(&self, failures: u32) -> Option<Duration> {
        let beyond = failures.checked_sub(self.locks_from)?;
        // 2^beyond, without overflowing: past 2^20 the ceiling is long reached.
        let factor = 1u32 << beyond.min(20);
        Some(self.first_lock.saturating_mul(factor).min(self.max_lock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_failures_lock_nothing_then_locks_double_up_to_the_ceiling() {
        let locks: Vec<Option<u64>> = (1..=11)
            .map(|n| PER_USER.lock_after(n).map(|d| d.as_secs()))
            .collect();
        assert_eq!(
            locks,
            [
                None,
                None,
                None,
                None,
                Some(30),
                Some(60),
                Some(120),
                Some(240),
                Some(480),
                Some(900),
                Some(900)
            ]
        );
        assert_eq!(PER_USER.lock_after(u32::MAX), Some(PER_USER.max_lock));
        assert_eq!(PER_ADDRESS.lock_after(19), None);
        assert_eq!(PER_ADDRESS.lock_after(20), Some(Duration::from_secs(30)));
    }
}
