//! The message boxes: listing a page (`sms-list`), the counts (`sms-count`), deleting and
//! marking read. Reply readers accept every shape seen on real devices (one message or many,
//! `<Messages/>`, missing `Content`).

use time::PrimitiveDateTime;

use crate::error::Error;
use crate::model::DATE_FORMAT;
use crate::xml::{Element, FromResponse, RequestXml};

/// Most messages one sms-list page returns (the WebUI caps `ReadCount` at 50).
pub const MAX_READ_COUNT: u32 = 50;

/// The message boxes of sms-list (`BoxType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BoxType {
    /// Received messages in the device's storage.
    LocalInbox = 1,
    /// Sent messages in the device's storage.
    LocalSent = 2,
    /// Drafts, including failed sends.
    LocalDraft = 3,
    /// Deleted messages.
    LocalTrash = 4,
    /// Received messages on the SIM.
    SimInbox = 5,
    /// Sent messages on the SIM.
    SimSent = 6,
    /// Drafts on the SIM.
    SimDraft = 7,
    /// Inbox of device and SIM together.
    MixInbox = 8,
    /// Sent box of device and SIM together.
    MixSent = 9,
    /// Drafts of device and SIM together.
    MixDraft = 10,
}

impl BoxType {
    /// The number sent on the wire.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The box for a wire number, if it is one.
    pub fn from_code(code: u8) -> Option<Self> {
        use BoxType::*;
        Some(match code {
            1 => LocalInbox,
            2 => LocalSent,
            3 => LocalDraft,
            4 => LocalTrash,
            5 => SimInbox,
            6 => SimSent,
            7 => SimDraft,
            8 => MixInbox,
            9 => MixSent,
            10 => MixDraft,
            _ => return None,
        })
    }
}

/// One page request of sms-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsListRequest {
    /// Page number, from 1.
    pub page: u32,
    /// Messages per page, 1..=50.
    pub read_count: u32,
    /// Which box.
    pub box_type: BoxType,
    /// 0 by date (1 by phone, 2 by index).
    pub sort_type: u8,
    /// Oldest first when true; the device default is newest first.
    pub ascending: bool,
    /// Unread messages first.
    pub unread_preferred: bool,
}

impl Default for SmsListRequest {
    fn default() -> Self {
        SmsListRequest {
            page: 1,
            read_count: 20,
            box_type: BoxType::LocalInbox,
            sort_type: 0,
            ascending: false,
            unread_preferred: false,
        }
    }
}

impl SmsListRequest {
    /// The first page of a box, `read_count` messages per page.
    pub fn new(box_type: BoxType, read_count: u32) -> Self {
        SmsListRequest {
            box_type,
            read_count,
            ..SmsListRequest::default()
        }
    }

    /// The body: `PageIndex, ReadCount, BoxType, SortType, Ascending, UnreadPreferred`.
    /// Page and count are clamped to what the device accepts.
    pub fn to_xml(&self) -> String {
        RequestXml::new()
            .field("PageIndex", self.page.max(1))
            .field("ReadCount", self.read_count.clamp(1, MAX_READ_COUNT))
            .field("BoxType", self.box_type.code())
            .field("SortType", self.sort_type)
            .field("Ascending", u8::from(self.ascending))
            .field("UnreadPreferred", u8::from(self.unread_preferred))
            .finish()
    }
}

/// Values of a message's `Smstat`.
pub mod smstat {
    /// Received, not read.
    pub const UNREAD: i32 = 0;
    /// Received and read.
    pub const READ: i32 = 1;
    /// Draft or pending.
    pub const DRAFT: i32 = 2;
    /// Sent successfully.
    pub const SENT: i32 = 3;
    /// Sending failed.
    pub const SEND_FAILED: i32 = 4;
}

/// Values of a message's `SmsType`.
pub mod sms_type {
    /// A single, normal message.
    pub const SINGLE: i32 = 1;
    /// A multipart message the device has already reassembled.
    pub const MULTIPART: i32 = 2;
    /// Seen with empty content; probably an MMS notice.
    pub const MMS_NOTICE: i32 = 5;
    /// Delivery report: delivered.
    pub const REPORT_SUCCESS: i32 = 7;
    /// Delivery report: not delivered.
    pub const REPORT_FAILED: i32 = 8;
}

/// One stored message from sms-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The device's index; local indices start at 40000.
    pub index: i64,
    /// Read/sent state, see [`smstat`].
    pub smstat: i32,
    /// Sender or recipient; may be alphanumeric ("Free Mobile").
    pub phone: String,
    /// The text exactly as stored (control characters replaced by spaces); empty if missing.
    pub content: String,
    /// Device-local time `YYYY-MM-DD hh:mm:ss`, as sent.
    pub date: String,
    /// Message centre; usually empty.
    pub sca: String,
    /// Storage kind; differs by firmware.
    pub save_type: i32,
    /// 0 for received messages.
    pub priority: i32,
    /// Kind of message, see [`sms_type`].
    pub sms_type: i32,
}

impl Message {
    /// Reads one `<Message>` element; `Index` is required, everything else defaults.
    pub fn from_element(m: &Element) -> Result<Self, Error> {
        Ok(Message {
            index: m.required("Index")?,
            smstat: m.num("Smstat").unwrap_or_default(),
            phone: m.string("Phone"),
            content: m.raw("Content").unwrap_or_default().to_owned(),
            date: m.string("Date"),
            sca: m.string("Sca"),
            save_type: m.num("SaveType").unwrap_or_default(),
            priority: m.num("Priority").unwrap_or_default(),
            sms_type: m.num("SmsType").unwrap_or(sms_type::SINGLE),
        })
    }

    /// The date parsed, when it is in the usual format.
    pub fn datetime(&self) -> Option<PrimitiveDateTime> {
        PrimitiveDateTime::parse(&self.date, DATE_FORMAT).ok()
    }

    /// True for a received message not yet read.
    pub fn is_unread(&self) -> bool {
        self.smstat == smstat::UNREAD
    }

    /// `Some(delivered)` when this is a delivery report.
    pub fn delivery_report(&self) -> Option<bool> {
        match self.sms_type {
            sms_type::REPORT_SUCCESS => Some(true),
            sms_type::REPORT_FAILED => Some(false),
            _ => None,
        }
    }
}

/// One page of sms-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmsList {
    /// `Count` as sent: the number of messages on this page.
    pub count: u32,
    /// The messages, in the order sent.
    pub messages: Vec<Message>,
}

impl FromResponse for SmsList {
    fn from_response(root: &Element) -> Result<Self, Error> {
        let messages = match root.child("Messages") {
            Some(list) => list
                .children_named("Message")
                .map(Message::from_element)
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let count = root
            .num("Count")
            .unwrap_or_else(|| u32::try_from(messages.len()).unwrap_or(u32::MAX));
        Ok(SmsList { count, messages })
    }
}

/// Message counts per box (`GET sms/sms-count`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmsCount {
    /// Unread messages in the local inbox.
    pub local_unread: u32,
    /// Messages in the local inbox.
    pub local_inbox: u32,
    /// Messages in the local sent box.
    pub local_outbox: u32,
    /// Local drafts.
    pub local_draft: u32,
    /// Locally deleted messages.
    pub local_deleted: u32,
    /// Unread messages on the SIM.
    pub sim_unread: u32,
    /// SIM inbox.
    pub sim_inbox: u32,
    /// SIM sent box.
    pub sim_outbox: u32,
    /// SIM drafts.
    pub sim_draft: u32,
    /// Capacity of the local storage (500 on sticks).
    pub local_max: u32,
    /// Capacity of the SIM.
    pub sim_max: u32,
    /// Messages on the SIM.
    pub sim_used: u32,
    /// New-message indicator.
    pub new_msg: u32,
}

impl SmsCount {
    /// Local messages counted against `LocalMax` (the WebUI's formula).
    pub fn local_used(&self) -> u32 {
        self.local_inbox
            .saturating_add(self.local_outbox)
            .saturating_add(self.local_draft)
            .saturating_add(self.local_deleted)
    }

    /// True when the local storage is full and sends or receipts may fail.
    pub fn is_local_full(&self) -> bool {
        self.local_max > 0 && self.local_used() >= self.local_max
    }
}

impl FromResponse for SmsCount {
    fn from_response(root: &Element) -> Result<Self, Error> {
        let n = |name: &str| root.num(name).unwrap_or_default();
        Ok(SmsCount {
            local_unread: n("LocalUnread"),
            local_inbox: n("LocalInbox"),
            local_outbox: n("LocalOutbox"),
            local_draft: n("LocalDraft"),
            local_deleted: n("LocalDeleted"),
            sim_unread: n("SimUnread"),
            sim_inbox: n("SimInbox"),
            sim_outbox: n("SimOutbox"),
            sim_draft: n("SimDraft"),
            local_max: n("LocalMax"),
            sim_max: n("SimMax"),
            sim_used: n("SimUsed"),
            new_msg: n("NewMsg"),
        })
    }
}

/// The body of delete-sms: one `<Index>` per message, as repeated siblings.
pub fn delete_sms_body(indices: &[i64]) -> Result<String, Error> {
    if indices.is_empty() {
        return Err(Error::InvalidRequest("no message to delete".into()));
    }
    Ok(indices
        .iter()
        .fold(RequestXml::new(), |xml, i| xml.field("Index", i))
        .finish())
}

/// The body of set-read.
pub fn set_read_body(index: i64) -> String {
    RequestXml::new().field("Index", index).finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_response;

    #[test]
    fn list_shapes() {
        let one: SmsList = parse_response(b"<response><Count>1</Count><Messages><Message><Index>40001</Index><Phone>Free Mobile</Phone><Smstat>1</Smstat><SmsType>7</SmsType></Message></Messages></response>").unwrap();
        assert_eq!(one.count, 1);
        assert_eq!(one.messages[0].phone, "Free Mobile");
        assert_eq!(one.messages[0].content, "");
        assert_eq!(one.messages[0].delivery_report(), Some(true));
        let none: SmsList =
            parse_response(b"<response><Count>0</Count><Messages></Messages></response>").unwrap();
        assert!(none.messages.is_empty());
        let bare: SmsList = parse_response(b"<response><Count>0</Count></response>").unwrap();
        assert!(bare.messages.is_empty());
        let err = parse_response::<SmsList>(
            b"<response><Messages><Message><Phone>1</Phone></Message></Messages></response>",
        )
        .unwrap_err();
        assert!(matches!(err, Error::Malformed(_)));
    }

    #[test]
    fn list_request_body() {
        let req = SmsListRequest {
            page: 2,
            read_count: 99,
            ..SmsListRequest::new(BoxType::LocalSent, 20)
        };
        assert_eq!(
            req.to_xml(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><PageIndex>2</PageIndex><ReadCount>50</ReadCount><BoxType>2</BoxType><SortType>0</SortType><Ascending>0</Ascending><UnreadPreferred>0</UnreadPreferred></request>"
        );
        for code in 1..=10 {
            assert_eq!(BoxType::from_code(code).map(BoxType::code), Some(code));
        }
        assert_eq!(BoxType::from_code(11), None);
    }

    #[test]
    fn delete_and_read_bodies() {
        assert_eq!(
            delete_sms_body(&[40001, 40002]).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><Index>40001</Index><Index>40002</Index></request>"
        );
        assert!(delete_sms_body(&[]).is_err());
        assert!(set_read_body(40001).ends_with("<request><Index>40001</Index></request>"));
    }

    #[test]
    fn count_full() {
        let c = SmsCount {
            local_inbox: 400,
            local_outbox: 100,
            local_max: 500,
            ..SmsCount::default()
        };
        assert!(c.is_local_full());
        assert!(!SmsCount::default().is_local_full());
    }
}
