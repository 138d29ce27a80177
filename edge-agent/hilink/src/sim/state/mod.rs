//! Everything the simulated device remembers: SMS storage, the send in progress and the
//! ledger, the SMS settings, sessions and the USSD dialog. The bottom of the simulator: it
//! knows nothing about HTTP, listeners or the control API.
//!
//! Time moves lazily: every SMS operation first calls [`State::tick`] with the current
//! instant, which finishes sends and delivers reports that are due. Nothing runs in the
//! background, so a test that reads the ledger sees exactly what a client polling the device
//! at that moment would see.

pub(crate) mod outbox;
pub(crate) mod sessions;
pub(crate) mod storage;
pub(crate) mod ussd;

use std::time::Instant;

use time::OffsetDateTime;

use crate::sim::config::{Profile, SimConfig, Timings};
use outbox::{LedgerEntry, Outbox, SendFault, SendProgress};
use sessions::Sessions;
use storage::{Counts, InboundOutcome, ListQuery, Storage, StoredSms};
use ussd::Ussd;

/// The `sms/config` settings, kept as the device echoes them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct SmsSettings {
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

impl Default for SmsSettings {
    fn default() -> Self {
        SmsSettings {
            save_mode: "0".into(),
            validity: "10752".into(),
            sca: "+491770610000".into(),
            use_s_report: false,
            send_type: "1".into(),
            priority: "0".into(),
        }
    }
}

/// The state of one simulated device.
#[derive(Debug)]
pub(crate) struct State {
    profile: Profile,
    local_max: usize,
    timings: Timings,
    settings: SmsSettings,
    storage: Storage,
    outbox: Outbox,
    /// Sessions and their tokens.
    pub sessions: Sessions,
    /// The USSD dialog and the operator's table.
    pub ussd: Ussd,
}

impl State {
    /// A device fresh from the factory, configured by `config`.
    pub fn new(config: &SimConfig) -> Self {
        State {
            profile: config.profile,
            local_max: config.local_max,
            timings: config.timings,
            settings: SmsSettings::default(),
            storage: Storage::new(config.profile, config.local_max),
            outbox: Outbox::default(),
            sessions: Sessions::default(),
            ussd: Ussd::new(config.ussd.clone()),
        }
    }

    /// Back to factory state: no messages, ledger, faults, sessions or USSD dialog, default
    /// settings and USSD table. Timings stay as they are.
    pub fn factory_reset(&mut self) {
        self.settings = SmsSettings::default();
        self.storage = Storage::new(self.profile, self.local_max);
        self.outbox = Outbox::default();
        self.sessions.clear();
        self.ussd.reset();
    }

    /// The current timings.
    pub fn timings(&self) -> Timings {
        self.timings
    }

    /// Changes the timings for sends, reports and USSD codes that start from now on.
    pub fn set_timings(&mut self, timings: Timings) {
        self.timings = timings;
    }

    /// The `sms/config` settings.
    pub fn settings(&self) -> &SmsSettings {
        &self.settings
    }

    /// Replaces the `sms/config` settings.
    pub fn set_settings(&mut self, settings: SmsSettings) {
        self.settings = settings;
    }

    /// Finishes what is due at `now`: send recipients, delivery reports, held messages.
    pub fn tick(&mut self, now: Instant) {
        let wall_now = OffsetDateTime::now_utc();
        self.outbox
            .tick(now, wall_now, &self.timings, &mut self.storage);
        self.storage.release_held();
    }

    /// Everything the network accepted up to `now`.
    pub fn ledger(&mut self, now: Instant) -> &[LedgerEntry] {
        self.tick(now);
        self.outbox.ledger()
    }

    /// Everything in local storage at `now`, by index.
    pub fn messages(&mut self, now: Instant) -> Vec<StoredSms> {
        self.tick(now);
        self.storage.messages().cloned().collect()
    }

    /// `sms-count`.
    pub fn counts(&mut self, now: Instant) -> Counts {
        self.tick(now);
        self.storage.counts()
    }

    /// `send-sms`: starts a send, or says why not with a device error code.
    pub fn send(&mut self, now: Instant, phones: Vec<String>, text: String) -> Result<(), u32> {
        self.tick(now);
        let report = self.settings.use_s_report;
        self.outbox
            .start(now, phones, text, report, &self.timings, &self.storage)?;
        self.tick(now);
        Ok(())
    }

    /// `cancel-send`: recipients not yet sent to fail.
    pub fn cancel_send(&mut self, now: Instant) {
        self.tick(now);
        self.outbox.cancel(now, &self.timings, &mut self.storage);
    }

    /// `save-sms`: stores a draft.
    pub fn save_draft(
        &mut self,
        now: Instant,
        phones: Vec<String>,
        text: String,
    ) -> Result<u32, u32> {
        self.tick(now);
        self.storage
            .save_draft(&phones, text, OffsetDateTime::now_utc())
    }

    /// `send-status` at `now`.
    pub fn send_progress(&mut self, now: Instant) -> SendProgress {
        self.tick(now);
        self.outbox.progress()
    }

    /// `sms-list`: one page of one box.
    pub fn list(&mut self, now: Instant, query: ListQuery) -> Result<Vec<StoredSms>, u32> {
        self.tick(now);
        self.storage.list(query)
    }

    /// `delete-sms`; freed places let held messages in.
    pub fn delete(&mut self, now: Instant, indices: &[u32]) -> Result<(), u32> {
        self.tick(now);
        self.storage.delete(indices)?;
        self.tick(now);
        Ok(())
    }

    /// `set-read`.
    pub fn set_read(&mut self, now: Instant, indices: &[u32]) -> Result<(), u32> {
        self.tick(now);
        self.storage.set_read(indices)
    }

    /// Delivers an SMS from the network (see [`Storage::inject_inbound`]).
    pub fn inject_inbound(
        &mut self,
        now: Instant,
        from: &str,
        text: &str,
        split: bool,
    ) -> InboundOutcome {
        self.tick(now);
        self.storage
            .inject_inbound(from, text, split, OffsetDateTime::now_utc())
    }

    /// Fills local storage with read inbox messages until `leave_free` places are left.
    pub fn fill_storage(&mut self, now: Instant, leave_free: usize) {
        self.tick(now);
        self.storage.fill(leave_free, OffsetDateTime::now_utc());
    }

    /// The next `count` sends fail with `fault`.
    pub fn fail_next_sends(&mut self, count: usize, fault: SendFault) {
        self.outbox.fail_next_sends(count, fault);
    }

    /// The next `count` delivery reports say "failed" (SmsType 8).
    pub fn fail_next_reports(&mut self, count: usize) {
        self.outbox.fail_next_reports(count);
    }

    /// Every send to `phone` fails until the device is reset.
    pub fn fail_number(&mut self, phone: &str) {
        self.outbox.fail_number(phone);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::code as codes;

    fn device(timings: Timings) -> State {
        State::new(&SimConfig::new(Profile::E3372h).with_timings(timings))
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
        let s = d.send_progress(t0);
        assert_eq!(
            (s.phone.as_str(), s.total_count, s.cur_index),
            ("+1,+2", 2, 1)
        );
        let s = d.send_progress(t0 + Duration::from_secs(11));
        assert_eq!(
            (s.phone.as_str(), s.suc_phone.as_str(), s.cur_index),
            ("+2", "+1", 2)
        );
        let s = d.send_progress(t0 + Duration::from_secs(20));
        assert_eq!((s.phone.as_str(), s.suc_phone.as_str()), ("", "+1,+2"));
        assert_eq!(d.ledger(t0 + Duration::from_secs(20)).len(), 2);
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
        let s = d.send_progress(t0);
        assert_eq!((s.suc_phone.as_str(), s.fail_phone.as_str()), ("+1", "+2"));
        assert_eq!(d.ledger(t0).len(), 1);
        assert_eq!(d.counts(t0).local_draft, 1);
    }

    #[test]
    fn storage_full_holds_inbound_and_refuses_sends() {
        let mut d = State::new(&SimConfig {
            local_max: 3,
            ..SimConfig::new(Profile::E3372h).with_timings(Timings::fast())
        });
        let t0 = Instant::now();
        d.fill_storage(t0, 0);
        assert!(d.counts(t0).full());
        assert_eq!(
            d.send(t0, vec!["+1".into()], "a".into()),
            Err(codes::SMS_STORAGE_FULL)
        );
        let outcome = d.inject_inbound(t0, "+9", "late", false);
        assert_eq!(outcome.queued, 1);
        let first = d.messages(t0).first().map(|m| m.index).unwrap();
        d.delete(t0, &[first]).unwrap();
        assert!(d.messages(t0).iter().any(|m| m.content == "late"));
    }
}
