//! The sender of one modem: takes commands from the journal in priority order, respects
//! the modem's budget and breaker, hands each SMS to the modem and follows it to `sent` or
//! `failed`.
//!
//! Never sending twice rests on one rule: before a send-sms goes out the command is marked
//! in doubt in the journal, and a command in doubt (the agent crashed, or the modem stopped
//! answering mid-send) is looked up in the modem's sent box before it is ever sent again.
//! Only an answer from the device that says "not sent" clears the doubt.

use std::{sync::Arc, time::Duration};

use hilink::{BoxType, ErrorClass};
use rand::RngExt;
use smsgw_shared::wire::{Failure, FailureCode};
use time::OffsetDateTime;
use tokio::{
    sync::{Notify, watch},
    time::{Instant, sleep, sleep_until},
};
use tracing::{debug, info, warn};

use crate::{
    config::{Timing, millis},
    journal::{Command, Journal, JournalError},
    modem::{Modem, failure_code},
};

/// How long before its budget slot a sender starts preparing a send (journal write).
const PREPARE: Duration = Duration::from_millis(25);

/// How long an idle sender sleeps before looking at the journal again anyway.
const IDLE_RECHECK: Duration = Duration::from_secs(1);

/// What a step of the sender did.
enum Step {
    /// Something happened; look for more work at once.
    Worked,
    /// Nothing to do before this instant (or a wake-up).
    Idle(Instant),
}

/// How a send ended, as far as the modem told.
enum Outcome {
    /// In `SucPhone`.
    Sent,
    /// In `FailPhone`.
    Rejected,
    /// No answer in time: the sent box decides later.
    Unknown(String),
}

/// The send loop of one modem.
pub struct Sender {
    modem: Arc<Modem>,
    journal: Journal,
    timing: Timing,
    /// Wakes the MQTT publisher when an event was journalled.
    events: Arc<Notify>,
}

impl Sender {
    /// A sender for `modem`.
    pub fn new(modem: Arc<Modem>, journal: Journal, timing: Timing, events: Arc<Notify>) -> Self {
        Self {
            modem,
            journal,
            timing,
            events,
        }
    }

    /// Runs until `shutdown` turns true; a send in progress is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        info!(modem = %self.modem.id, "sender started");
        while !*shutdown.borrow() {
            let until = match self.step().await {
                Ok(Step::Worked) => {
                    self.events.notify_one();
                    continue;
                }
                Ok(Step::Idle(until)) => until,
                Err(e) => {
                    warn!(modem = %self.modem.id, error = %e, "journal error in the sender");
                    Instant::now() + IDLE_RECHECK
                }
            };
            tokio::select! {
                _ = self.modem.wake.notified() => {}
                _ = sleep_until(until) => {}
                _ = shutdown.changed() => {}
            }
        }
        info!(modem = %self.modem.id, "sender stopped");
    }

    async fn step(&self) -> Result<Step, JournalError> {
        let now = OffsetDateTime::now_utc();
        let instant = Instant::now();
        let idle = instant + IDLE_RECHECK;
        {
            let state = self.modem.state.lock().await;
            if let Some(retry_at) = state.breaker.retry_at().filter(|&t| t > instant) {
                return Ok(Step::Idle(retry_at.min(idle)));
            }
        }
        let Some(command) = self.journal.next_for(&self.modem.id, now).await? else {
            return Ok(Step::Idle(idle));
        };
        if !command.in_doubt {
            if command.expires_at.is_some_and(|t| t <= now) {
                info!(id = %command.id, "expired before it could be sent");
                self.journal.expire(command.id, now).await?;
                return Ok(Step::Worked);
            }
            // Wake a little before the slot: the journal write of the attempt happens
            // while the budget runs out, so the send itself goes out on the slot.
            let slot = self.modem.state.lock().await.budget.next_slot(instant);
            if slot > instant + PREPARE {
                return Ok(Step::Idle(slot - PREPARE));
            }
        }
        if !self.modem.state.lock().await.breaker.allow(instant) {
            return Ok(Step::Idle(idle));
        }
        if command.in_doubt {
            match self.find_in_sent_box(&command).await {
                Ok(Some(index)) => {
                    info!(id = %command.id, index, "found in the sent box: it was sent");
                    self.journal
                        .sent(command.id, Some(index), OffsetDateTime::now_utc())
                        .await?;
                    return Ok(Step::Worked);
                }
                Ok(None) => {
                    debug!(id = %command.id, "not in the sent box: it was not sent");
                    if command.expires_at.is_some_and(|t| t <= now) {
                        self.journal.expire(command.id, now).await?;
                        return Ok(Step::Worked);
                    }
                }
                Err(e) => {
                    let failure = failure_of(&e);
                    self.journal
                        .attempt_unknown(command.id, failure, self.retry_at(command.attempt), now)
                        .await?;
                    return Ok(Step::Worked);
                }
            }
        }
        self.attempt(command).await?;
        Ok(Step::Worked)
    }

    /// One attempt: journal it as in doubt, send, follow the outcome.
    async fn attempt(&self, command: Command) -> Result<(), JournalError> {
        let started = OffsetDateTime::now_utc();
        let Some(command) = self
            .journal
            .begin_attempt(&command, &self.modem.id, started)
            .await?
        else {
            return Ok(());
        };
        self.events.notify_one();
        if command.delivery_report
            && let Err(e) = self.modem.ensure_reports().await
        {
            debug!(modem = %self.modem.id, error = %e, "cannot turn on delivery reports");
        }
        let slot = self
            .modem
            .state
            .lock()
            .await
            .budget
            .next_slot(Instant::now());
        sleep_until(slot).await;
        self.modem.state.lock().await.budget.record(Instant::now());
        let attempt = command.attempt;
        debug!(id = %command.id, attempt, modem = %self.modem.id, "sending");
        let result = self
            .modem
            .client
            .send_sms(&[command.to.as_str()], &command.text)
            .await;
        self.modem.record(result.as_ref().map(|_| ())).await;
        let now = OffsetDateTime::now_utc();
        match result {
            Ok(()) => match self.follow(&command).await {
                Outcome::Sent => {
                    // Claim its sent-box entry so that a later in-doubt search for the same
                    // text to the same number can never mistake it for its own.
                    let index = self.sent_entry(&command).await.unwrap_or_default();
                    info!(id = %command.id, attempt, ?index, "sent");
                    self.journal.sent(command.id, index, now).await?;
                }
                Outcome::Rejected => {
                    let failure = Failure {
                        code: FailureCode::NetworkRejected,
                        modem_code: None,
                        retryable: false,
                        detail: Some("the modem reports the send to this number as failed".into()),
                    };
                    warn!(id = %command.id, "the network refused the SMS");
                    self.journal
                        .attempt_failed(command.id, failure, None, now)
                        .await?;
                }
                Outcome::Unknown(detail) => {
                    let failure = Failure {
                        code: FailureCode::ModemUnreachable,
                        modem_code: None,
                        retryable: true,
                        detail: Some(detail),
                    };
                    self.journal
                        .attempt_unknown(command.id, failure, self.retry_at(attempt), now)
                        .await?;
                }
            },
            Err(error) => {
                let failure = failure_of(&error);
                warn!(id = %command.id, attempt, %error, "send-sms failed");
                match error.class() {
                    // The request may have reached the device: the sent box decides.
                    ErrorClass::Transport => {
                        self.journal
                            .attempt_unknown(command.id, failure, self.retry_at(attempt), now)
                            .await?;
                    }
                    ErrorClass::Retryable | ErrorClass::RefreshSession => {
                        if error.class() == ErrorClass::RefreshSession {
                            self.modem.client.reset_session().await;
                        }
                        let retry =
                            (attempt < self.timing.max_attempts).then(|| self.retry_at(attempt));
                        self.journal
                            .attempt_failed(command.id, failure, retry, now)
                            .await?;
                    }
                    // A full storage clears when the poller deletes old messages: not
                    // the message's fault, so it waits (until it expires) without using
                    // up its attempts.
                    ErrorClass::Permanent if failure.code == FailureCode::StorageFull => {
                        let retry = Some(self.retry_at(attempt));
                        self.journal
                            .attempt_failed(command.id, failure, retry, now)
                            .await?;
                    }
                    ErrorClass::Permanent => {
                        self.journal
                            .attempt_failed(command.id, failure, None, now)
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Polls send-status until the modem is done with the send, or the timeout.
    async fn follow(&self, command: &Command) -> Outcome {
        let deadline = Instant::now() + millis(self.timing.send_status_timeout_ms);
        loop {
            sleep(millis(self.timing.send_status_poll_ms)).await;
            match self.modem.client.send_status().await {
                Ok(status) if status.is_done() => {
                    if status.suc_phone.iter().any(|p| same_number(p, &command.to)) {
                        return Outcome::Sent;
                    }
                    if status
                        .fail_phone
                        .iter()
                        .any(|p| same_number(p, &command.to))
                    {
                        return Outcome::Rejected;
                    }
                    return Outcome::Unknown(
                        "send-status finished without naming the number".into(),
                    );
                }
                Ok(_) => {}
                Err(e) => debug!(id = %command.id, error = %e, "send-status failed; polling on"),
            }
            if Instant::now() >= deadline {
                return Outcome::Unknown("send-status did not finish in time".into());
            }
        }
    }

    /// Looks for an in-doubt command in the sent box: the entry to its number with its
    /// text that no other command has claimed. Waits first for a send still in progress.
    async fn find_in_sent_box(&self, command: &Command) -> Result<Option<i64>, hilink::Error> {
        let deadline = Instant::now() + millis(self.timing.send_status_timeout_ms);
        loop {
            let status = self.modem.client.send_status().await?;
            if status.is_done() || Instant::now() >= deadline {
                break;
            }
            sleep(millis(self.timing.send_status_poll_ms)).await;
        }
        self.sent_entry(command).await
    }

    /// The newest sent-box entry to the command's number with its text that no other
    /// command has claimed.
    async fn sent_entry(&self, command: &Command) -> Result<Option<i64>, hilink::Error> {
        let sent = self.modem.client.sms_list_all(BoxType::LocalSent).await?;
        let claimed = self
            .journal
            .claimed_sent_indices(&self.modem.id)
            .await
            .unwrap_or_default();
        Ok(sent
            .iter()
            .filter(|m| m.smstat != hilink::model::sms::smstat::SEND_FAILED)
            .filter(|m| !claimed.contains(&m.index))
            .filter(|m| same_number(&m.phone, &command.to) && m.content == command.text)
            .map(|m| m.index)
            .max())
    }

    /// When to try again after `attempt` attempts: exponential with jitter.
    fn retry_at(&self, attempt: u32) -> OffsetDateTime {
        let base = self.timing.retry_min_ms.max(1);
        let factor = 1u64 << attempt.saturating_sub(1).min(20);
        let delay = base
            .saturating_mul(factor)
            .min(self.timing.retry_max_ms.max(base));
        let jitter = rand::rng().random_range(0.8..1.2);
        let delay = Duration::from_millis((delay as f64 * jitter) as u64);
        OffsetDateTime::now_utc() + delay
    }
}

/// The failure reported for a modem error.
fn failure_of(error: &hilink::Error) -> Failure {
    Failure {
        code: failure_code(error),
        modem_code: error.code().map(i64::from),
        retryable: !matches!(error.class(), ErrorClass::Permanent),
        detail: Some(error.to_string()),
    }
}

/// Whether two renderings of a phone number are the same number: equal digits, or the
/// same national significant part when one carries the country code and the other not.
pub fn same_number(a: &str, b: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let (a, b) = (digits(a), digits(b));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    if a == b {
        return true;
    }
    let tail = 9;
    a.len() >= tail && b.len() >= tail && a[a.len() - tail..] == b[b.len() - tail..]
}

#[cfg(test)]
mod tests {
    use super::same_number;

    #[test]
    fn numbers_match_across_renderings() {
        assert!(same_number("+33612345678", "+33612345678"));
        assert!(same_number("+33612345678", "0612345678"));
        assert!(same_number("+33 6 12 34 56 78", "33612345678"));
        assert!(!same_number("+33612345678", "+33612345679"));
        assert!(!same_number("", ""));
        assert!(!same_number("Orange", "Orange"));
        assert!(!same_number("12345", "612345"));
    }
}
