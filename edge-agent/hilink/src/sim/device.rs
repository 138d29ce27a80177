//! The simulated device's SMS side: local storage, the send in progress, delivery reports
//! and the network's ledger.
//!
//! Time moves lazily: every entry point first calls [`Device::tick`] with the current
//! instant, which finishes sends and delivers reports that are due. Nothing runs in the
//! background, so a test that reads the ledger sees exactly what a client polling the
//! device at that moment would see.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use smsgw_shared::sms::{self, Encoding};
use time::OffsetDateTime;
use time::macros::format_description;

use super::config::{Profile, Timings};
use crate::code as codes;

/// The four local folders, numbered like `BoxType` 1–4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Folder {
    /// Received messages and delivery reports.
    Inbox,
    /// Messages the network accepted.
    Sent,
    /// Drafts, including sends that failed.
    Draft,
    /// Deleted items the device still keeps.
    Trash,
}

impl Folder {
    /// The folder a `BoxType` reads: 1–4 local, 8–10 mixed local and SIM. SIM boxes (5–7)
    /// are always empty here, since the simulated SIM stores nothing.
    fn from_box_type(box_type: u32) -> Result<Option<Folder>, u32> {
        match box_type {
            1 | 8 => Ok(Some(Folder::Inbox)),
            2 | 9 => Ok(Some(Folder::Sent)),
            3 | 10 => Ok(Some(Folder::Draft)),
            4 => Ok(Some(Folder::Trash)),
            5..=7 => Ok(None),
            _ => Err(codes::PARAMETER_ERROR),
        }
    }
}

/// One message in local storage, with the fields `sms-list` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredSms {
    /// `Index`, from 40000 up.
    pub index: u32,
    /// Which folder holds it.
    pub folder: Folder,
    /// Sender (inbox) or recipient (other folders).
    pub phone: String,
    /// The text; empty for delivery reports.
    pub content: String,
    /// Device-local time, `YYYY-MM-DD HH:MM:SS`.
    pub date: String,
    /// 0 unread, 1 read, 2 draft, 3 sent.
    pub smstat: u8,
    /// 1 single, 2 multipart, 7 delivery report (delivered), 8 delivery report (failed).
    pub sms_type: u8,
    /// `SaveType` as this firmware reports it.
    pub save_type: u8,
    /// 0 received, 4 sent from the device.
    pub priority: u8,
    /// Arrival order, to sort messages with the same `Date`.
    #[serde(skip)]
    seq: u64,
}

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

/// The `sms/config` settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SmsConfig {
    /// 0 local, 1 SIM, 2 SIM first, 3 local first.
    pub save_mode: String,
    /// Validity in hours; 10752 is the maximum.
    pub validity: String,
    /// Message centre number.
    pub sca: String,
    /// Whether delivery reports are requested for new sends.
    pub use_s_report: bool,
    /// 0 send, 1 send and save.
    pub send_type: String,
    /// 0–3.
    pub priority: String,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            save_mode: "0".into(),
            validity: "10752".into(),
            sca: "+491770610000".into(),
            use_s_report: false,
            send_type: "1".into(),
            priority: "0".into(),
        }
    }
}

/// What `send-status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendStatus {
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

/// The `sms-count` figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Unread inbox messages.
    pub local_unread: usize,
    /// Inbox messages.
    pub local_inbox: usize,
    /// Sent-box messages.
    pub local_outbox: usize,
    /// Drafts.
    pub local_draft: usize,
    /// Trash.
    pub local_deleted: usize,
    /// Capacity of local storage.
    pub local_max: usize,
}

impl Counts {
    /// Whether local storage is full (the WebUI's formula).
    pub fn full(&self) -> bool {
        self.local_inbox + self.local_outbox + self.local_draft + self.local_deleted
            >= self.local_max
    }
}

/// An `sms-list` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    /// 1-based page.
    pub page_index: usize,
    /// Page size (at most 50).
    pub read_count: usize,
    /// Which box.
    pub box_type: u32,
    /// 0 date, 1 phone, 2 index.
    pub sort_type: u32,
    /// Oldest (smallest) first.
    pub ascending: bool,
    /// Unread messages first.
    pub unread_preferred: bool,
}

/// What became of an injected inbound SMS.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct InboundOutcome {
    /// Indices of the stored messages (one, or one per part when split).
    pub indices: Vec<u32>,
    /// Messages the network holds back because storage is full; they arrive once space
    /// is freed.
    pub queued: usize,
}

/// A message the network holds until local storage has room.
#[derive(Debug, Clone)]
struct Incoming {
    phone: String,
    content: String,
    sms_type: u8,
    at: OffsetDateTime,
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

/// A delivery report on its way.
#[derive(Debug, Clone)]
struct PendingReport {
    due: Instant,
    due_wall: OffsetDateTime,
    phone: String,
    delivered: bool,
}

/// First local `Index`, as on every recorded device.
const FIRST_INDEX: u32 = 40000;

/// The SMS state of one simulated device.
#[derive(Debug)]
pub struct Device {
    profile: Profile,
    timings: Timings,
    local_max: usize,
    messages: BTreeMap<u32, StoredSms>,
    next_index: u32,
    next_seq: u64,
    config: SmsConfig,
    job: Option<SendJob>,
    last_send: Option<Instant>,
    reports: Vec<PendingReport>,
    held: VecDeque<Incoming>,
    ledger: Vec<LedgerEntry>,
    send_faults: VecDeque<SendFault>,
    report_failures: usize,
    fail_numbers: BTreeSet<String>,
}

/// Formats a time the way the device shows dates.
pub fn device_date(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second]"
    ))
    .unwrap_or_default()
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

/// Splits a text into the segments it travels in, using the shared SMS rules for the
/// width of each character.
pub fn split_segments(text: &str) -> Vec<String> {
    let info = sms::analyze(text);
    if info.segments <= 1 {
        return vec![text.to_owned()];
    }
    let capacity = info.encoding.part_capacity();
    let mut parts = Vec::with_capacity(info.segments);
    let (mut current, mut used) = (String::new(), 0);
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let width = match info.encoding {
            Encoding::Gsm7 => sms::analyze(c.encode_utf8(&mut buf)).units,
            Encoding::Ucs2 => c.len_utf16(),
        };
        if used + width > capacity && !current.is_empty() {
            parts.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(c);
        used += width;
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

impl Device {
    /// An empty device.
    pub fn new(profile: Profile, timings: Timings, local_max: usize) -> Self {
        Device {
            profile,
            timings,
            local_max,
            messages: BTreeMap::new(),
            next_index: FIRST_INDEX,
            next_seq: 0,
            config: SmsConfig::default(),
            job: None,
            last_send: None,
            reports: Vec::new(),
            held: VecDeque::new(),
            ledger: Vec::new(),
            send_faults: VecDeque::new(),
            report_failures: 0,
            fail_numbers: BTreeSet::new(),
        }
    }

    /// Back to factory state: no messages, no ledger, no faults, default settings.
    pub fn reset(&mut self) {
        *self = Device::new(self.profile, self.timings, self.local_max);
    }

    /// The current timings.
    pub fn timings(&self) -> Timings {
        self.timings
    }

    /// Changes the timings for sends and reports that start from now on.
    pub fn set_timings(&mut self, timings: Timings) {
        self.timings = timings;
    }

    /// The `sms/config` settings.
    pub fn config(&self) -> &SmsConfig {
        &self.config
    }

    /// Replaces the `sms/config` settings.
    pub fn set_config(&mut self, config: SmsConfig) {
        self.config = config;
    }

    /// Everything the network accepted so far.
    pub fn ledger(&self) -> &[LedgerEntry] {
        &self.ledger
    }

    /// Every stored message, by index.
    pub fn messages(&self) -> impl Iterator<Item = &StoredSms> {
        self.messages.values()
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

    fn used(&self) -> usize {
        self.messages.len()
    }

    fn store(&mut self, mut sms: StoredSms) -> u32 {
        let index = self.next_index;
        self.next_index += 1;
        self.next_seq += 1;
        sms.index = index;
        sms.seq = self.next_seq;
        self.messages.insert(index, sms);
        index
    }

    /// Stores a received message, or holds it in the network while storage is full.
    fn receive(&mut self, incoming: Incoming) -> Option<u32> {
        if self.used() >= self.local_max {
            self.held.push_back(incoming);
            return None;
        }
        let save_type = match self.profile {
            Profile::E3372h => 4,
            _ => 0,
        };
        Some(self.store(StoredSms {
            index: 0,
            folder: Folder::Inbox,
            phone: incoming.phone,
            content: incoming.content,
            date: device_date(incoming.at),
            smstat: 0,
            sms_type: incoming.sms_type,
            save_type,
            priority: 0,
            seq: 0,
        }))
    }

    /// Finishes what is due at `now`: send recipients, delivery reports, held messages.
    pub fn tick(&mut self, now: Instant) {
        let wall_now = OffsetDateTime::now_utc();
        self.finish_recipients(now, wall_now);
        let (due, pending): (Vec<_>, Vec<_>) = self.reports.drain(..).partition(|r| r.due <= now);
        self.reports = pending;
        for report in due {
            let sms_type = if report.delivered { 7 } else { 8 };
            self.receive(Incoming {
                phone: report.phone,
                content: String::new(),
                sms_type,
                at: report.due_wall,
            });
        }
        while self.used() < self.local_max {
            let Some(incoming) = self.held.pop_front() else {
                break;
            };
            self.receive(incoming);
        }
    }

    fn finish_recipients(&mut self, now: Instant, wall_now: OffsetDateTime) {
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
            finished.push((phone, ok, at, job.text.clone(), job.parts, job.report));
        }
        for (phone, ok, at, text, parts, report) in finished {
            let wall = wall_of(at, now, wall_now);
            self.finish_one(phone, ok, at, wall, text, parts, report);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_one(
        &mut self,
        phone: String,
        ok: bool,
        at: Instant,
        wall: OffsetDateTime,
        text: String,
        parts: usize,
        report: bool,
    ) {
        let (folder, smstat) = if ok {
            (Folder::Sent, 3)
        } else {
            (Folder::Draft, 2)
        };
        let save_type = if ok { 3 } else { 0 };
        let index = self.store(StoredSms {
            index: 0,
            folder,
            phone: phone.clone(),
            content: text.clone(),
            date: device_date(wall),
            smstat,
            sms_type: 1,
            save_type,
            priority: 4,
            seq: 0,
        });
        if !ok {
            tracing::debug!(%phone, "simulated send failed");
            return;
        }
        tracing::debug!(%phone, index, "simulated network accepted an SMS");
        self.ledger.push(LedgerEntry {
            seq: self.ledger.len() as u64 + 1,
            to: phone.clone(),
            text,
            time: rfc3339(wall),
            index,
            parts,
        });
        if report {
            let delivered = if self.report_failures > 0 {
                self.report_failures -= 1;
                false
            } else {
                true
            };
            self.reports.push(PendingReport {
                due: at + self.timings.report_delay,
                due_wall: wall + self.timings.report_delay,
                phone,
                delivered,
            });
        }
    }

    fn send_in_progress(&self) -> bool {
        self.job
            .as_ref()
            .is_some_and(|j| j.outcomes.len() < j.phones.len())
    }

    /// `send-sms`: starts a send, or says why not with a device error code.
    pub fn send(&mut self, now: Instant, phones: Vec<String>, text: String) -> Result<(), u32> {
        self.tick(now);
        if self.send_in_progress() {
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
        if self.used() >= self.local_max {
            return Err(codes::SMS_STORAGE_FULL);
        }
        let gap = self.timings.min_send_gap;
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
            per_phone: self.timings.send_duration,
            fail_all,
            report: self.config.use_s_report,
            outcomes: Vec::new(),
        });
        self.tick(now);
        Ok(())
    }

    /// `cancel-send`: recipients not yet sent to fail.
    pub fn cancel_send(&mut self, now: Instant) {
        self.tick(now);
        let Some(job) = self.job.as_mut() else {
            return;
        };
        let wall = OffsetDateTime::now_utc();
        let rest: Vec<String> = job.phones[job.outcomes.len()..].to_vec();
        job.outcomes.extend(std::iter::repeat_n(false, rest.len()));
        let (text, parts) = (job.text.clone(), job.parts);
        for phone in rest {
            self.finish_one(phone, false, now, wall, text.clone(), parts, false);
        }
    }

    /// `save-sms`: stores a draft.
    pub fn save_draft(
        &mut self,
        now: Instant,
        phones: Vec<String>,
        text: String,
    ) -> Result<u32, u32> {
        self.tick(now);
        if self.used() >= self.local_max {
            return Err(codes::SMS_STORAGE_FULL);
        }
        Ok(self.store(StoredSms {
            index: 0,
            folder: Folder::Draft,
            phone: phones.join(";"),
            content: text,
            date: device_date(OffsetDateTime::now_utc()),
            smstat: 2,
            sms_type: 1,
            save_type: 0,
            priority: 4,
            seq: 0,
        }))
    }

    /// `send-status` at `now`.
    pub fn send_status(&mut self, now: Instant) -> SendStatus {
        self.tick(now);
        let Some(job) = self.job.as_ref() else {
            return SendStatus::default();
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
        SendStatus {
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

    /// `sms-count`.
    pub fn counts(&mut self, now: Instant) -> Counts {
        self.tick(now);
        let mut counts = Counts {
            local_unread: 0,
            local_inbox: 0,
            local_outbox: 0,
            local_draft: 0,
            local_deleted: 0,
            local_max: self.local_max,
        };
        for sms in self.messages.values() {
            match sms.folder {
                Folder::Inbox => {
                    counts.local_inbox += 1;
                    if sms.smstat == 0 {
                        counts.local_unread += 1;
                    }
                }
                Folder::Sent => counts.local_outbox += 1,
                Folder::Draft => counts.local_draft += 1,
                Folder::Trash => counts.local_deleted += 1,
            }
        }
        counts
    }

    /// `sms-list`: one page of one box.
    pub fn list(&mut self, now: Instant, query: ListQuery) -> Result<Vec<StoredSms>, u32> {
        self.tick(now);
        let Some(folder) = Folder::from_box_type(query.box_type)? else {
            return Ok(Vec::new());
        };
        let mut found: Vec<&StoredSms> = self
            .messages
            .values()
            .filter(|m| m.folder == folder)
            .collect();
        found.sort_by(|a, b| {
            let order = match query.sort_type {
                1 => a.phone.cmp(&b.phone).then(a.seq.cmp(&b.seq)),
                2 => a.index.cmp(&b.index),
                _ => a.date.cmp(&b.date).then(a.seq.cmp(&b.seq)),
            };
            if query.ascending {
                order
            } else {
                order.reverse()
            }
        });
        if query.unread_preferred {
            // A stable sort keeps the order above within each group.
            found.sort_by_key(|m| m.smstat != 0);
        }
        let size = query.read_count.min(50);
        let skip = query
            .page_index
            .max(1)
            .saturating_sub(1)
            .saturating_mul(size);
        Ok(found.into_iter().skip(skip).take(size).cloned().collect())
    }

    /// 10.x firmware refuses indices it does not hold (113114); 22.x ignores them.
    fn check_known(&self, indices: &[u32]) -> Result<(), u32> {
        let unknown = indices.iter().any(|i| !self.messages.contains_key(i));
        if unknown && self.profile == Profile::E3372h320 {
            return Err(codes::SMS_NOT_FOUND);
        }
        Ok(())
    }

    /// `delete-sms`. Unknown indices are ignored, except on 10.x firmware (113114).
    pub fn delete(&mut self, now: Instant, indices: &[u32]) -> Result<(), u32> {
        self.tick(now);
        self.check_known(indices)?;
        for index in indices {
            self.messages.remove(index);
        }
        self.tick(now);
        Ok(())
    }

    /// `set-read`. Unknown indices are ignored, except on 10.x firmware (113114).
    pub fn set_read(&mut self, now: Instant, indices: &[u32]) -> Result<(), u32> {
        self.tick(now);
        self.check_known(indices)?;
        for index in indices {
            if let Some(sms) = self.messages.get_mut(index)
                && sms.smstat == 0
            {
                sms.smstat = 1;
            }
        }
        Ok(())
    }

    /// Delivers an SMS from the network. A text longer than one segment arrives as
    /// SmsType 2: reassembled into one message, or with `split` as one message per part.
    pub fn inject_inbound(
        &mut self,
        now: Instant,
        from: &str,
        text: &str,
        split: bool,
    ) -> InboundOutcome {
        self.tick(now);
        let segments = split_segments(text);
        let (contents, sms_type) = match (segments.len() > 1, split) {
            (false, _) => (vec![text.to_owned()], 1),
            (true, false) => (vec![text.to_owned()], 2),
            (true, true) => (segments, 2),
        };
        let at = OffsetDateTime::now_utc();
        let mut outcome = InboundOutcome::default();
        for content in contents {
            match self.receive(Incoming {
                phone: from.to_owned(),
                content,
                sms_type,
                at,
            }) {
                Some(index) => outcome.indices.push(index),
                None => outcome.queued += 1,
            }
        }
        outcome
    }

    /// Fills local storage with read inbox messages until `leave_free` places are left.
    pub fn fill_storage(&mut self, now: Instant, leave_free: usize) {
        self.tick(now);
        let at = device_date(OffsetDateTime::now_utc());
        let mut n = 0;
        while self.used() + leave_free < self.local_max {
            n += 1;
            self.store(StoredSms {
                index: 0,
                folder: Folder::Inbox,
                phone: "+10000000000".into(),
                content: format!("filler {n}"),
                date: at.clone(),
                smstat: 1,
                sms_type: 1,
                save_type: 0,
                priority: 0,
                seq: 0,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(timings: Timings) -> Device {
        Device::new(Profile::E3372h, timings, 500)
    }

    #[test]
    fn send_progresses_then_lands_in_sent_box_and_ledger() {
        let mut d = device(Timings {
            send_duration: Duration::from_secs(10),
            ..Timings::fast()
        });
        let t0 = Instant::now();
        d.send(t0, vec!["+1".into(), "+2".into()], "hi".into())
            .unwrap();
        let s = d.send_status(t0);
        assert_eq!(
            (s.phone.as_str(), s.total_count, s.cur_index),
            ("+1,+2", 2, 1)
        );
        let s = d.send_status(t0 + Duration::from_secs(11));
        assert_eq!(
            (s.phone.as_str(), s.suc_phone.as_str(), s.cur_index),
            ("+2", "+1", 2)
        );
        let s = d.send_status(t0 + Duration::from_secs(20));
        assert_eq!((s.phone.as_str(), s.suc_phone.as_str()), ("", "+1,+2"));
        assert_eq!(d.ledger().len(), 2);
        assert_eq!(d.counts(t0 + Duration::from_secs(20)).local_outbox, 2);
    }

    #[test]
    fn faults_and_failed_numbers() {
        let mut d = device(Timings {
            send_duration: Duration::ZERO,
            ..Timings::fast()
        });
        let t0 = Instant::now();
        d.fail_next_sends(1, SendFault::Overtime);
        assert_eq!(
            d.send(t0, vec!["+1".into()], "a".into()),
            Err(codes::SMS_OVERTIME)
        );
        d.fail_number("+2");
        d.send(t0, vec!["+1".into(), "+2".into()], "a".into())
            .unwrap();
        let s = d.send_status(t0);
        assert_eq!((s.suc_phone.as_str(), s.fail_phone.as_str()), ("+1", "+2"));
        assert_eq!(d.ledger().len(), 1);
        assert_eq!(d.counts(t0).local_draft, 1);
    }

    #[test]
    fn segments_split_like_the_shared_rules() {
        let text = "x".repeat(400);
        let parts = split_segments(&text);
        assert_eq!(parts.len(), sms::analyze(&text).segments);
        assert_eq!(parts.concat(), text);
        let text = "ü€".repeat(100);
        let parts = split_segments(&text);
        assert_eq!(parts.len(), sms::analyze(&text).segments);
        assert_eq!(parts.concat(), text);
        assert_eq!(split_segments("short"), ["short"]);
    }

    #[test]
    fn storage_full_holds_inbound_and_refuses_sends() {
        let mut d = Device::new(Profile::E3372h, Timings::fast(), 3);
        let t0 = Instant::now();
        d.fill_storage(t0, 0);
        assert!(d.counts(t0).full());
        assert_eq!(
            d.send(t0, vec!["+1".into()], "a".into()),
            Err(codes::SMS_STORAGE_FULL)
        );
        let outcome = d.inject_inbound(t0, "+9", "late", false);
        assert_eq!(outcome.queued, 1);
        let first = d.messages().next().map(|m| m.index).unwrap();
        d.delete(t0, &[first]).unwrap();
        assert!(d.messages().any(|m| m.content == "late"));
    }
}
