//! Sending: the send-sms body the WebUI writes, and `send-status`, which says how the send
//! is going.

use smsgw_shared::sms::{Encoding, analyze};
use time::PrimitiveDateTime;

use crate::error::Error;
use crate::model::DATE_FORMAT;
use crate::xml::{Element, FromResponse, RequestXml};

/// Most recipients one send-sms takes (`maxphone` in `sms/config`).
pub const MAX_PHONES: usize = 50;

/// Values of `Reserved` (text mode) in send-sms.
pub mod text_mode {
    /// UCS-2, for texts with any character outside the GSM alphabet.
    pub const UCS2: u8 = 0;
    /// GSM 7-bit.
    pub const SEVEN_BIT: u8 = 1;
    /// 8-bit data.
    pub const EIGHT_BIT: u8 = 2;
}

/// The `Reserved` value for a text: 1 when it fits the GSM alphabet, else 0.
pub fn text_mode_for(text: &str) -> u8 {
    match analyze(text).encoding {
        Encoding::Gsm7 => text_mode::SEVEN_BIT,
        Encoding::Ucs2 => text_mode::UCS2,
    }
}

/// Builds the send-sms body: `Index, Phones/Phone…, Sca, Content, Length, Reserved, Date`.
///
/// `date` is written as given; the device expects its local time (UTC works too). `Length`
/// is the text's UTF-16 length, which the device does not check strictly.
pub fn send_sms_body<P: AsRef<str>>(
    phones: &[P],
    text: &str,
    date: PrimitiveDateTime,
) -> Result<String, Error> {
    if phones.is_empty() {
        return Err(Error::InvalidRequest("no recipient".into()));
    }
    if phones.len() > MAX_PHONES {
        return Err(Error::InvalidRequest(format!(
            "{} recipients, at most {MAX_PHONES} per send",
            phones.len()
        )));
    }
    let date = date
        .format(DATE_FORMAT)
        .map_err(|e| Error::InvalidRequest(format!("date: {e}")))?;
    let mut xml = RequestXml::new().field("Index", -1).open("Phones");
    for phone in phones {
        let phone = phone.as_ref().trim();
        if phone.is_empty() || phone.chars().any(char::is_whitespace) {
            return Err(Error::InvalidRequest(format!(
                "recipient {phone:?} is not a number"
            )));
        }
        xml = xml.field("Phone", phone);
    }
    Ok(xml
        .close("Phones")
        .field("Sca", "")
        .field("Content", text)
        .field("Length", text.encode_utf16().count())
        .field("Reserved", text_mode_for(text))
        .field("Date", date)
        .finish())
}

/// Progress of the last send (`GET sms/send-status`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendStatus {
    /// Numbers still being sent to; empty when the send is finished.
    pub phone: Vec<String>,
    /// Numbers the network accepted.
    pub suc_phone: Vec<String>,
    /// Numbers the send failed for.
    pub fail_phone: Vec<String>,
    /// Total parts × recipients (an inference; see the notes).
    pub total_count: Option<u32>,
    /// The part being sent now.
    pub cur_index: Option<u32>,
}

impl SendStatus {
    /// True when nothing is in progress (`Phone` is empty).
    pub fn is_done(&self) -> bool {
        self.phone.is_empty()
    }
}

/// Splits a comma-separated number list, dropping blanks (the WebUI drops a trailing empty).
fn comma_list(element: &Element, name: &str) -> Vec<String> {
    element
        .raw(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl FromResponse for SendStatus {
    fn from_response(root: &Element) -> Result<Self, Error> {
        Ok(SendStatus {
            phone: comma_list(root, "Phone"),
            suc_phone: comma_list(root, "SucPhone"),
            fail_phone: comma_list(root, "FailPhone"),
            total_count: root.num("TotalCount"),
            cur_index: root.num("CurIndex"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_response;
    use time::macros::datetime;

    #[test]
    fn send_body_has_the_webui_order() {
        let body = send_sms_body(
            &["+4512345678", "0722060322"],
            "hi & <you>",
            datetime!(2018-02-13 22:21:30),
        )
        .unwrap();
        assert_eq!(
            body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><Index>-1</Index><Phones><Phone>+4512345678</Phone><Phone>0722060322</Phone></Phones><Sca></Sca><Content>hi &amp; &lt;you&gt;</Content><Length>10</Length><Reserved>1</Reserved><Date>2018-02-13 22:21:30</Date></request>"
        );
    }

    #[test]
    fn reserved_follows_the_encoding() {
        assert_eq!(text_mode_for("plain text {}"), 1);
        assert_eq!(text_mode_for("Grüße"), 1);
        assert_eq!(text_mode_for("Привет"), 0);
        assert_eq!(text_mode_for("emoji \u{1F600}"), 0);
        let body = send_sms_body(&["1"], "\u{1F600}", datetime!(2020-01-01 0:00)).unwrap();
        assert!(
            body.contains("<Length>2</Length><Reserved>0</Reserved>"),
            "{body}"
        );
    }

    #[test]
    fn send_body_refuses_bad_recipients() {
        let d = datetime!(2020-01-01 0:00);
        assert!(send_sms_body::<&str>(&[], "x", d).is_err());
        assert!(send_sms_body(&[" "], "x", d).is_err());
        assert!(send_sms_body(&["1 2"], "x", d).is_err());
        assert!(send_sms_body(&vec!["1"; 51], "x", d).is_err());
    }

    #[test]
    fn send_status_lists() {
        let s: SendStatus = parse_response(b"<response><Phone>+1,+2,</Phone><SucPhone>+3</SucPhone><FailPhone></FailPhone><TotalCount>3</TotalCount><CurIndex>1</CurIndex></response>").unwrap();
        assert_eq!(s.phone, ["+1", "+2"]);
        assert_eq!(s.suc_phone, ["+3"]);
        assert!(s.fail_phone.is_empty());
        assert!(!s.is_done());
        let s: SendStatus =
            parse_response(b"<response><Phone/><SucPhone/><FailPhone>+33,</FailPhone></response>")
                .unwrap();
        assert!(s.is_done());
        assert_eq!(s.fail_phone, ["+33"]);
        assert_eq!(s.total_count, None);
    }
}
