//! The device's local SMS storage: four folders, message indices from 40000 up, and the
//! messages the network holds back while the storage is full.
//!
//! Nothing here knows about time or sending: [`super::State`] decides when a message arrives
//! and [`super::outbox`] what a finished send leaves behind.

use std::collections::{BTreeMap, VecDeque};

use smsgw_shared::sms::{self, Encoding};
use time::OffsetDateTime;

use crate::code as codes;
use crate::model::DATE_FORMAT;
use crate::sim::config::Profile;

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

/// A message arriving from the network.
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    /// The sender.
    pub phone: String,
    /// The text; empty for delivery reports.
    pub content: String,
    /// `SmsType`.
    pub sms_type: u8,
    /// When it arrived.
    pub at: OffsetDateTime,
}

/// First local `Index`, as on every recorded device.
const FIRST_INDEX: u32 = 40000;

/// Formats a time the way the device shows dates.
pub(crate) fn device_date(at: OffsetDateTime) -> String {
    at.format(DATE_FORMAT).unwrap_or_default()
}

/// Splits a text into the segments it travels in, using the shared SMS rules for the
/// width of each character.
pub(crate) fn split_segments(text: &str) -> Vec<String> {
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

/// The local storage of one simulated device.
#[derive(Debug)]
pub(crate) struct Storage {
    profile: Profile,
    local_max: usize,
    messages: BTreeMap<u32, StoredSms>,
    next_index: u32,
    next_seq: u64,
    /// Messages the network holds while the storage is full.
    held: VecDeque<Incoming>,
}

impl Storage {
    /// Empty storage for `local_max` messages.
    pub fn new(profile: Profile, local_max: usize) -> Self {
        Storage {
            profile,
            local_max,
            messages: BTreeMap::new(),
            next_index: FIRST_INDEX,
            next_seq: 0,
            held: VecDeque::new(),
        }
    }

    /// Every stored message, by index.
    pub fn messages(&self) -> impl Iterator<Item = &StoredSms> {
        self.messages.values()
    }

    /// Whether another message fits.
    pub fn is_full(&self) -> bool {
        self.messages.len() >= self.local_max
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
    pub fn receive(&mut self, incoming: Incoming) -> Option<u32> {
        if self.is_full() {
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

    /// Lets held messages in while there is room.
    pub fn release_held(&mut self) {
        while !self.is_full() {
            let Some(incoming) = self.held.pop_front() else {
                break;
            };
            self.receive(incoming);
        }
    }

    /// Keeps the copy of a finished send: in the sent box when the network accepted it,
    /// else in the drafts (where failed sends land on a real device).
    pub fn keep_sent(
        &mut self,
        phone: String,
        content: String,
        at: OffsetDateTime,
        ok: bool,
    ) -> u32 {
        let (folder, smstat, save_type) = if ok {
            (Folder::Sent, 3, 3)
        } else {
            (Folder::Draft, 2, 0)
        };
        self.store(StoredSms {
            index: 0,
            folder,
            phone,
            content,
            date: device_date(at),
            smstat,
            sms_type: 1,
            save_type,
            priority: 4,
            seq: 0,
        })
    }

    /// `save-sms`: stores a draft.
    pub fn save_draft(
        &mut self,
        phones: &[String],
        text: String,
        at: OffsetDateTime,
    ) -> Result<u32, u32> {
        if self.is_full() {
            return Err(codes::SMS_STORAGE_FULL);
        }
        Ok(self.store(StoredSms {
            index: 0,
            folder: Folder::Draft,
            phone: phones.join(";"),
            content: text,
            date: device_date(at),
            smstat: 2,
            sms_type: 1,
            save_type: 0,
            priority: 4,
            seq: 0,
        }))
    }

    /// `sms-count`.
    pub fn counts(&self) -> Counts {
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
    pub fn list(&self, query: ListQuery) -> Result<Vec<StoredSms>, u32> {
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
    pub fn delete(&mut self, indices: &[u32]) -> Result<(), u32> {
        self.check_known(indices)?;
        for index in indices {
            self.messages.remove(index);
        }
        Ok(())
    }

    /// `set-read`. Unknown indices are ignored, except on 10.x firmware (113114).
    pub fn set_read(&mut self, indices: &[u32]) -> Result<(), u32> {
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

    /// An SMS from the network. A text longer than one segment arrives as SmsType 2:
    /// reassembled into one message, or with `split` as one message per part.
    pub fn inject_inbound(
        &mut self,
        from: &str,
        text: &str,
        split: bool,
        at: OffsetDateTime,
    ) -> InboundOutcome {
        let segments = split_segments(text);
        let (contents, sms_type) = match (segments.len() > 1, split) {
            (false, _) => (vec![text.to_owned()], 1),
            (true, false) => (vec![text.to_owned()], 2),
            (true, true) => (segments, 2),
        };
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

    /// Fills the storage with read inbox messages until `leave_free` places are left.
    pub fn fill(&mut self, leave_free: usize, at: OffsetDateTime) {
        let date = device_date(at);
        let mut n = 0;
        while self.messages.len() + leave_free < self.local_max {
            n += 1;
            self.store(StoredSms {
                index: 0,
                folder: Folder::Inbox,
                phone: "+10000000000".into(),
                content: format!("filler {n}"),
                date: date.clone(),
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
}
