//! The poller of one modem: finds inbound SMS and delivery reports, journals them, then
//! deletes them from the modem; keeps room in the modem's storage; reads its health.
//!
//! `check-notifications` is cheap and polled often; the inbox is read when it shows unread
//! messages and at least every `list_poll_ms`. A message is deleted from the modem only
//! after its event is committed to the journal, so a crash in between makes the agent read
//! it again, and the journal's fingerprint keeps it from being reported twice.

use std::{collections::HashMap, sync::Arc};

use hilink::{BoxType, Message, model::sms::sms_type};
use smsgw_shared::{
    EventId,
    sms::analyze,
    wire::{InboundEvent, V1},
};
use time::OffsetDateTime;
use tokio::{
    sync::{Notify, watch},
    time::{Instant, sleep_until},
};
use tracing::{debug, info, warn};

use crate::{
    config::{Timing, millis},
    journal::{Journal, JournalError},
    modem::{Modem, read_health},
    sender::same_number,
};

/// A stable fingerprint of an inbox entry: the same entry read again gives the same
/// fingerprint across restarts and versions (FNV-1a, not the std hasher).
pub fn fingerprint(message: &Message) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in message.content.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!(
        "{}|{}|{}|{:016x}",
        message.index, message.phone, message.date, hash
    )
}

/// The poll loop of one modem.
pub struct Poller {
    modem: Arc<Modem>,
    journal: Journal,
    timing: Timing,
    events: Arc<Notify>,
    /// Publishes `state/modems` when the health changed.
    health_changed: Arc<Notify>,
    /// Multipart messages seen but not yet settled: index → (content, first seen).
    settling: HashMap<i64, (String, Instant)>,
}

impl Poller {
    /// A poller for `modem`.
    pub fn new(
        modem: Arc<Modem>,
        journal: Journal,
        timing: Timing,
        events: Arc<Notify>,
        health_changed: Arc<Notify>,
    ) -> Self {
        Self {
            modem,
            journal,
            timing,
            events,
            health_changed,
            settling: HashMap::new(),
        }
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut next_list = Instant::now();
        let mut next_health = Instant::now();
        while !*shutdown.borrow() {
            let now = Instant::now();
            if now >= next_health {
                match self.modem.ensure_reports().await {
                    Ok(true) => info!(modem = %self.modem.id, "turned on delivery reports"),
                    Ok(false) => {}
                    Err(e) => {
                        debug!(modem = %self.modem.id, error = %e, "cannot turn on delivery reports yet")
                    }
                }
                self.refresh_health().await;
                next_health = now + millis(self.timing.health_interval_ms);
            }
            let open = self.modem.state.lock().await.breaker.retry_at().is_some();
            if !open {
                match self.modem.client.check_notifications().await {
                    Ok(notifications) => {
                        self.modem.record(Ok(())).await;
                        let full = notifications.sms_storage_full;
                        let was_full = std::mem::replace(
                            &mut self.modem.state.lock().await.storage_full,
                            full,
                        );
                        if full != was_full {
                            warn!(modem = %self.modem.id, full, "SMS storage full changed");
                            self.health_changed.notify_one();
                        }
                        if notifications.unread_message > 0 || full || !self.settling.is_empty() {
                            next_list = now;
                        }
                    }
                    Err(e) => {
                        debug!(modem = %self.modem.id, error = %e, "check-notifications failed");
                        self.modem.record(Err(&e)).await;
                    }
                }
                if now >= next_list {
                    match self.read_inbox().await {
                        Ok(()) => next_list = now + millis(self.timing.list_poll_ms),
                        Err(e) => {
                            warn!(modem = %self.modem.id, error = %e, "reading the inbox failed")
                        }
                    }
                }
            }
            tokio::select! {
                _ = sleep_until(now + millis(self.timing.notification_poll_ms)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Reads the health and publishes it when it changed.
    async fn refresh_health(&self) {
        let previous = self.modem.state.lock().await.health.clone();
        match read_health(&self.modem, &previous).await {
            Ok(health) => {
                self.modem.record(Ok(())).await;
                if health != previous {
                    self.modem.state.lock().await.health = health;
                    self.health_changed.notify_one();
                }
            }
            Err(e) => {
                debug!(modem = %self.modem.id, error = %e, "reading health failed");
                self.modem.record(Err(&e)).await;
            }
        }
    }

    /// Reads the inbox, journals what is new, deletes what is journalled, and prunes the
    /// sent box.
    async fn read_inbox(&mut self) -> Result<(), PollError> {
        let inbox = self.modem.client.sms_list_all(BoxType::LocalInbox).await?;
        let mut done = Vec::new();
        let now = OffsetDateTime::now_utc();
        let instant = Instant::now();
        let seen: Vec<i64> = inbox.iter().map(|m| m.index).collect();
        self.settling.retain(|index, _| seen.contains(index));
        for message in &inbox {
            match message.sms_type {
                sms_type::REPORT_SUCCESS | sms_type::REPORT_FAILED => {
                    let delivered = message.sms_type == sms_type::REPORT_SUCCESS;
                    let matched = self
                        .journal
                        .delivery_report(&self.modem.id, &message.phone, delivered, now)
                        .await?;
                    let matched = match matched {
                        Some(id) => Some(id),
                        // The modem may write the number in another form than we sent it.
                        None => self.match_report_loosely(message, delivered, now).await?,
                    };
                    match matched {
                        Some(id) => info!(%id, delivered, "delivery report"),
                        None => {
                            // The report overtook the `sent` of a send still being followed:
                            // keep it for the next round.
                            let sending = self.journal.sending_recipients(&self.modem.id).await?;
                            if sending.iter().any(|r| same_number(r, &message.phone)) {
                                continue;
                            }
                            debug!(phone = %message.phone, "delivery report for no known message")
                        }
                    }
                    done.push(message.index);
                }
                sms_type::MMS_NOTICE => done.push(message.index),
                _ => {}
            }
        }
        for text in assemble(&inbox) {
            if text.multipart && !self.settled(&text, instant) {
                continue;
            }
            let event = InboundEvent {
                v: V1,
                event_id: EventId::new(),
                from: text.phone.clone(),
                text: text.content.clone(),
                modem: self.modem.id.clone(),
                received_at: text.received_at.unwrap_or(now),
                segments: u32::try_from(analyze(&text.content).segments.max(1)).unwrap_or(1),
            };
            if self.journal.inbound(&text.fingerprint, &event, now).await? {
                info!(modem = %self.modem.id, segments = event.segments, "inbound SMS");
            }
            self.settling.remove(&text.indices[0]);
            done.extend(&text.indices);
        }
        if !done.is_empty() {
            self.events.notify_one();
            self.modem.client.delete_sms(&done).await?;
        }
        self.prune_sent_box().await?;
        Ok(())
    }

    /// Whether a multipart message has stopped growing for `multipart_settle_ms`.
    fn settled(&mut self, text: &Received, now: Instant) -> bool {
        let settle = millis(self.timing.multipart_settle_ms);
        let entry = self
            .settling
            .entry(text.indices[0])
            .or_insert_with(|| (text.content.clone(), now));
        if entry.0 != text.content {
            *entry = (text.content.clone(), now);
        }
        now >= entry.1 + settle
    }

    /// Matches a delivery report whose number is written differently from ours.
    async fn match_report_loosely(
        &self,
        message: &Message,
        delivered: bool,
        now: OffsetDateTime,
    ) -> Result<Option<smsgw_shared::MessageId>, JournalError> {
        for recipient in self.journal.awaiting_report(&self.modem.id).await? {
            if same_number(&recipient, &message.phone) {
                return self
                    .journal
                    .delivery_report(&self.modem.id, &recipient, delivered, now)
                    .await;
            }
        }
        Ok(None)
    }

    /// Deletes sent-box entries no command needs, and the drafts failed sends leave
    /// behind: every entry except those to a number whose send is still in doubt (the
    /// sender will look for them). The boxes are read before the journal, so an entry that
    /// appears in between is not touched.
    async fn prune_sent_box(&self) -> Result<(), PollError> {
        let mut entries = self.modem.client.sms_list_all(BoxType::LocalSent).await?;
        entries.extend(self.modem.client.sms_list_all(BoxType::LocalDraft).await?);
        if entries.is_empty() {
            return Ok(());
        }
        let in_doubt = self.journal.in_doubt_recipients(&self.modem.id).await?;
        let stale: Vec<i64> = entries
            .iter()
            .filter(|m| !in_doubt.iter().any(|r| same_number(r, &m.phone)))
            .map(|m| m.index)
            .collect();
        if !stale.is_empty() {
            debug!(modem = %self.modem.id, count = stale.len(), "deleting sent and draft entries");
            self.modem.client.delete_sms(&stale).await?;
        }
        Ok(())
    }
}

/// An inbound text as the agent reports it: one inbox entry, or the parts of a long SMS
/// that the modem stored as separate SmsType 2 entries (same sender, same time), joined in
/// index order.
#[derive(Debug)]
struct Received {
    indices: Vec<i64>,
    phone: String,
    content: String,
    received_at: Option<OffsetDateTime>,
    multipart: bool,
    fingerprint: String,
}

/// The texts of an inbox: delivery reports and MMS notices left out, parts joined.
fn assemble(inbox: &[Message]) -> Vec<Received> {
    let mut texts: Vec<Received> = Vec::new();
    let mut entries: Vec<&Message> = inbox
        .iter()
        .filter(|m| {
            !matches!(
                m.sms_type,
                sms_type::REPORT_SUCCESS | sms_type::REPORT_FAILED | sms_type::MMS_NOTICE
            )
        })
        .collect();
    entries.sort_by_key(|m| m.index);
    for message in entries {
        let multipart = message.sms_type == sms_type::MULTIPART;
        let part_of = texts.iter_mut().find(|t| {
            multipart
                && t.multipart
                && t.phone == message.phone
                && t.received_at == received_at(message)
        });
        match part_of {
            Some(text) => {
                text.indices.push(message.index);
                text.content.push_str(&message.content);
                text.fingerprint.push('+');
                text.fingerprint.push_str(&fingerprint(message));
            }
            None => texts.push(Received {
                indices: vec![message.index],
                phone: message.phone.clone(),
                content: message.content.clone(),
                received_at: received_at(message),
                multipart,
                fingerprint: fingerprint(message),
            }),
        }
    }
    texts
}

/// When the modem received a message: its `Date`, in the box's local time.
fn received_at(message: &Message) -> Option<OffsetDateTime> {
    message
        .datetime()
        .map(|local| crate::clock::device_time(local, crate::clock::local_offset()))
}

/// A failure of one poll round.
#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error(transparent)]
    Modem(#[from] hilink::Error),
    #[error(transparent)]
    Journal(#[from] JournalError),
}
