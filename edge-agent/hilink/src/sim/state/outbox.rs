//! The network side of sending: the send `send-status` reports on, injected send faults,
//! delivery reports on their way, and the ledger of every SMS the network accepted.
//!
//! A send finishes one recipient per `send_duration`; what it leaves behind (a sent-box or
//! draft copy, a delivery report later) goes into [`Storage`].

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use smsgw_shared::sms;
use time::OffsetDateTime;

use super::storage::{Incoming, Storage};
use crate::code as codes;
use crate::sim::config::Timings;

/// One SMS the simulated network accepted: what tests count lost and duplicated
/// messages against.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LedgerEntry {
    /// Position in the ledger, from 1.
    pub seq: u64,
    /// The recipient exactly as the client sent it.
    pub to: String,
    /// The text as the device understood it (entities resolved).
    pub text: String,
    /// When the network accepted it, RFC 3339 UTC.
    pub time: String,
    /// The `Index` of its copy in the sent box.
    pub index: u32,
    /// SMS segments it took on the air.
    pub parts: usize,
}

/// How an injected send failure shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendFault {
    /// `send-sms` answers 113018 (SMS module timed out).
    Overtime,
    /// `send-sms` answers 100004 (system busy).
    Busy,
    /// `send-sms` answers OK, then every recipient ends in `FailPhone`.
    FailPhone,
    /// `send-sms` answers this device error code.
    Code(u32),
}

/// What `send-status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SendProgress {
    /// Recipients still being sent to, comma-separated; empty when the send is done.
    pub phone: String,
    /// Recipients the network accepted, comma-separated.
    pub suc_phone: String,
    /// Recipients that failed, comma-separated.
    pub fail_phone: String,
    /// Segments × recipients.
    pub total_count: usize,
    /// The segment being sent, or `total_count` when done.
    pub cur_index: usize,
}

/// The send `send-status` reports on.
#[derive(Debug, Clone)]
struct SendJob {
    phones: Vec<String>,
    text: String,
    parts: usize,
    started: Instant,
    per_phone: Duration,
    fail_all: bool,
    report: bool,
    /// Recipients already finished, in order, with their outcome.
    outcomes: Vec<bool>,
}

/// One recipient of the job, finished.
struct Finished {
    phone: String,
    ok: bool,
    at: Instant,
    wall: OffsetDateTime,
    text: String,
    parts: usize,
    report: bool,
}

/// A delivery report on its way.
#[derive(Debug, Clone)]
struct PendingReport {
    due: Instant,
    due_wall: OffsetDateTime,
    phone: String,
    delivered: bool,
}

/// Formats a time for the ledger.
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The wall-clock time of `at`, given that `now` is `wall_now`.
fn wall_of(at: Instant, now: Instant, wall_now: OffsetDateTime) -> OffsetDateTime {
    wall_now - now.saturating_duration_since(at)
}

/// Sends, reports and the ledger of one simulated device.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    job: Option<SendJob>,
    last_send: Option<Instant>,
    reports: Vec<PendingReport>,
    ledger: Vec<LedgerEntry>,
    send_faults: VecDeque<SendFault>,
    report_failures: usize,
    fail_numbers: BTreeSet<String>,
}

impl Outbox {
    /// Everything the network accepted so far.
    pub fn ledger(&self) -> &[LedgerEntry] {
        &self.ledger
    }

    /// The next `count` sends fail with `fault`.
    pub fn fail_next_sends(&mut self, count: usize, fault: SendFault) {
        self.send_faults.extend(std::iter::repeat_n(fault, count));
    }

    /// The next `count` delivery reports say "failed" (SmsType 8).
    pub fn fail_next_reports(&mut self, count: usize) {
        self.report_failures += count;
    }

    /// Every send to `phone` fails until the device is reset.
    pub fn fail_number(&mut self, phone: &str) {
        self.fail_numbers.insert(phone.to_owned());
    }

    fn in_progress(&self) -> bool {
        self.job
            .as_ref()
            .is_some_and(|j| j.outcomes.len() < j.phones.len())
    }

    /// `send-sms`: starts a send, or says why not with a device error code. `report` is
    /// the `UseSReport` setting at this moment.
    pub fn start(
        &mut self,
        now: Instant,
        phones: Vec<String>,
        text: String,
        report: bool,
        timings: &Timings,
        storage: &Storage,
    ) -> Result<(), u32> {
        if self.in_progress() {
            return Err(codes::SMS_OVERTIME);
        }
        let phones: Vec<String> = phones.into_iter().filter(|p| !p.is_empty()).collect();
        if phones.is_empty() {
            return Err(codes::SMS_ILLEGAL_ARGUMENT);
        }
        let mut fail_all = false;
        match self.send_faults.pop_front() {
            Some(SendFault::Overtime) => return Err(codes::SMS_OVERTIME),
            Some(SendFault::Busy) => return Err(codes::SYSTEM_BUSY),
            Some(SendFault::Code(code)) => return Err(code),
            Some(SendFault::FailPhone) => fail_all = true,
            None => {}
        }
        if storage.is_full() {
            return Err(codes::SMS_STORAGE_FULL);
        }
        let gap = timings.min_send_gap;
        if !gap.is_zero()
            && self
                .last_send
                .is_some_and(|last| now.saturating_duration_since(last) < gap)
        {
            return Err(codes::SMS_TOO_MANY);
        }
        self.last_send = Some(now);
        let parts = sms::analyze(&text).segments.max(1);
        self.job = Some(SendJob {
            phones,
            text,
            parts,
            started: now,
            per_phone: timings.send_duration,
            fail_all,
            report,
            outcomes: Vec::new(),
        });
        Ok(())
    }

    /// Finishes what is due at `now` (send recipients, delivery reports) into `storage`.
    pub fn tick(
        &mut self,
        now: Instant,
        wall_now: OffsetDateTime,
        timings: &Timings,
        storage: &mut Storage,
    ) {
        self.finish_recipients(now, wall_now, timings, storage);
        let (due, pending): (Vec<_>, Vec<_>) = self.reports.drain(..).partition(|r| r.due <= now);
        self.reports = pending;
        for report in due {
            let sms_type = if report.delivered { 7 } else { 8 };
            storage.receive(Incoming {
                phone: report.phone,
                content: String::new(),
                sms_type,
                at: report.due_wall,
            });
        }
    }

    fn finish_recipients(
        &mut self,
        now: Instant,
        wall_now: OffsetDateTime,
        timings: &Timings,
        storage: &mut Storage,
    ) {
        let Some(job) = self.job.as_mut() else {
            return;
        };
        let elapsed = now.saturating_duration_since(job.started);
        let done = if job.per_phone.is_zero() {
            job.phones.len()
        } else {
            let n = elapsed.as_nanos() / job.per_phone.as_nanos();
            usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(job.phones.len())
        };
        let mut finished = Vec::new();
        while job.outcomes.len() < done {
            let i = job.outcomes.len();
            let phone = job.phones[i].clone();
            let ok = !job.fail_all && !self.fail_numbers.contains(&phone);
            job.outcomes.push(ok);
            let at = job.started + job.per_phone * (u32::try_from(i + 1).unwrap_or(u32::MAX));
            finished.push(Finished {
                phone,
                ok,
                at,
                wall: wall_of(at, now, wall_now),
                text: job.text.clone(),
                parts: job.parts,
                report: job.report,
            });
        }
        for one in finished {
            self.finish_one(one, timings, storage);
        }
    }

    fn finish_one(&mut self, one: Finished, timings: &Timings, storage: &mut Storage) {
        let index = storage.keep_sent(one.phone.clone(), one.text.clone(), one.wall, one.ok);
        if !one.ok {
            tracing::debug!(phone = %one.phone, "simulated send failed");
            return;
        }
        tracing::debug!(phone = %one.phone, index, "simulated network accepted an SMS");
        self.ledger.push(LedgerEntry {
            seq: self.ledger.len() as u64 + 1,
            to: one.phone.clone(),
            text: one.text,
            time: rfc3339(one.wall),
            index,
            parts: one.parts,
        });
        if one.report {
            let delivered = if self.report_failures > 0 {
                self.report_failures -= 1;
                false
            } else {
                true
            };
            self.reports.push(PendingReport {
                due: one.at + timings.report_delay,
                due_wall: one.wall + timings.report_delay,
                phone: one.phone,
                delivered,
            });
        }
    }

    /// `cancel-send`: recipients not yet sent to fail.
    pub fn cancel(&mut self, now: Instant, timings: &Timings, storage: &mut Storage) {
        let Some(job) = self.job.as_mut() else {
            return;
        };
        let wall = OffsetDateTime::now_utc();
        let rest: Vec<String> = job.phones[job.outcomes.len()..].to_vec();
        job.outcomes.extend(std::iter::repeat_n(false, rest.len()));
        let (text, parts) = (job.text.clone(), job.parts);
        for phone in rest {
            let one = Finished {
                phone,
                ok: false,
                at: now,
                wall,
                text: text.clone(),
                parts,
                report: false,
            };
            self.finish_one(one, timings, storage);
        }
    }

    /// `send-status`, as of the last tick.
    pub fn progress(&self) -> SendProgress {
        let Some(job) = self.job.as_ref() else {
            return SendProgress::default();
        };
        let done = job.outcomes.len();
        let pick = |want: bool| {
            job.phones
                .iter()
                .zip(&job.outcomes)
                .filter(|(_, ok)| **ok == want)
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        let total = job.parts * job.phones.len();
        SendProgress {
            phone: job.phones[done..].join(","),
            suc_phone: pick(true),
            fail_phone: pick(false),
            total_count: total,
            cur_index: if done < job.phones.len() {
                done * job.parts + 1
            } else {
                total
            },
        }
    }
}
