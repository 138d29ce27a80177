//! A due message as the `command/send` payload its site's agent receives.

use smsgw_shared::{
    ids::{MessageId, ModemId, SiteId},
    phone::PhoneNumber,
    sms::MessageText,
    wire::{Priority, SendCommand, V1},
};
use time::OffsetDateTime;

use crate::store::dispatch::DueMessage;

/// A stored message that cannot be turned into a command (it was stored by hand or by a
/// bug: the API validates everything it stores).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("message {id} cannot be dispatched: {reason}")]
pub struct CommandError {
    /// The message.
    pub id: uuid::Uuid,
    /// What is wrong with it.
    pub reason: String,
}

/// The wire priority of the API's numeric priority: below 0 low, 0 normal, above 0 high.
pub fn wire_priority(priority: i16) -> Priority {
    match priority {
        p if p < 0 => Priority::Low,
        0 => Priority::Normal,
        _ => Priority::High,
    }
}

/// The site and the send command of a due message, issued at `now`.
pub fn send_command(
    due: &DueMessage,
    now: OffsetDateTime,
) -> Result<(SiteId, SendCommand), CommandError> {
    let fail = |reason: String| CommandError { id: due.id, reason };
    let site: SiteId = due
        .site_id
        .as_deref()
        .ok_or_else(|| fail("it has no site".into()))?
        .parse()
        .map_err(|e| fail(format!("{e}")))?;
    let command = SendCommand {
        v: V1,
        id: MessageId::from_uuid(due.id).map_err(|e| fail(e.to_string()))?,
        to: PhoneNumber::parse(&due.phone, None).map_err(|e| fail(e.to_string()))?,
        text: MessageText::parse(due.content.clone()).map_err(|e| fail(e.to_string()))?,
        modem: due
            .modem_id
            .as_deref()
            .map(|m| m.parse::<ModemId>())
            .transpose()
            .map_err(|e| fail(e.to_string()))?,
        priority: wire_priority(due.priority),
        expires_at: due.expires_at,
        delivery_report: due.delivery_report,
        issued_at: now,
    };
    Ok((site, command))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due() -> DueMessage {
        DueMessage {
            id: uuid::Uuid::now_v7(),
            site_id: Some("paris".into()),
            modem_id: Some("usb0".into()),
            phone: "+33612345678".into(),
            content: "hello".into(),
            priority: 5,
            delivery_report: true,
            expires_at: None,
            dispatches: 1,
        }
    }

    #[test]
    fn a_due_message_becomes_a_command() {
        let now = OffsetDateTime::now_utc();
        let (site, command) = send_command(&due(), now).expect("command");
        assert_eq!(site.as_str(), "paris");
        assert_eq!(command.to.as_str(), "+33612345678");
        assert_eq!(command.priority, Priority::High);
        assert_eq!(
            command.modem.as_ref().map(|m| m.to_string()).as_deref(),
            Some("usb0")
        );
        let json = serde_json::to_value(&command).expect("json");
        assert_eq!(json["v"], 1);
        assert_eq!(json["text"], "hello");
    }

    #[test]
    fn priorities_map_to_three_levels() {
        assert_eq!(wire_priority(-128), Priority::Low);
        assert_eq!(wire_priority(0), Priority::Normal);
        assert_eq!(wire_priority(127), Priority::High);
    }

    #[test]
    fn broken_rows_are_reported_not_sent() {
        let mut no_site = due();
        no_site.site_id = None;
        assert!(send_command(&no_site, OffsetDateTime::now_utc()).is_err());
        let mut v4 = due();
        v4.id = uuid::Uuid::new_v4();
        assert!(send_command(&v4, OffsetDateTime::now_utc()).is_err());
    }
}
