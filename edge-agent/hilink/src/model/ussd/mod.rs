//! USSD requests and replies: `ussd/send`, `ussd/get`, `ussd/status` and `ussd/release`.
//!
//! Shapes from the E3372 WebUI 17 (`WebApp/common/js/ussd.js` in adron-s/e3372h_my_webroot)
//! and huawei-lte-api (`huawei_lte_api/api/Ussd.py`): `send` posts
//! `<content>`, `<codeType>CodeType</codeType>` and an empty `<timeout>`, and answers OK; the
//! answer is then polled with `GET ussd/get` (`<response><content>…</content></response>`),
//! which says 111019 while the network has not answered; `GET ussd/status` has `<result>1</result>`
//! while a USSD dialog is open; `GET ussd/release` closes it.
//!
//! [`UssdCode`] (in `service_code`) is what counts as a service code (`*100#`, `#123*4#`); the
//! client refuses anything else before it reaches the device, and the simulator refuses it
//! the same way a device would.

pub(crate) mod service_code;

use std::time::Duration;

pub use self::service_code::{CodeProblem, MAX_CODE_LEN, UssdCode};
use crate::error::Error;
use crate::xml::{Element, FromResponse, RequestXml};

/// Value of `<codeType>` as the WebUI sends it (huawei-lte-api sends `codeType`; devices
/// evidently ignore it).
const CODE_TYPE: &str = "CodeType";

/// The body of `ussd/send`: `content, codeType, timeout`, in the WebUI's order.
pub fn send_body(code: &UssdCode) -> String {
    RequestXml::new()
        .field("content", code.as_str())
        .field("codeType", CODE_TYPE)
        .field("timeout", "")
        .finish()
}

/// The network's answer to a USSD code, as [`crate::Client::ussd`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdAnswer {
    /// The code as sent.
    pub code: UssdCode,
    /// The answer's text, trimmed.
    pub content: String,
    /// From sending the code to reading the answer.
    pub waited: Duration,
}

/// The network's answer (`GET ussd/get`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UssdContent {
    /// The text without surrounding white space (the WebUI trims it too); control
    /// characters are already replaced by spaces.
    pub content: String,
}

impl FromResponse for UssdContent {
    fn from_response(root: &Element) -> Result<Self, Error> {
        match root.raw("content") {
            Some(text) => Ok(UssdContent {
                content: text.trim().to_owned(),
            }),
            None => Err(Error::malformed("ussd/get reply without <content>")),
        }
    }
}

/// Whether a USSD dialog is open (`GET ussd/status`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UssdStatus {
    /// `<result>1</result>`: a dialog is open (an answer is awaited or a menu is shown).
    pub dialog_open: bool,
}

impl FromResponse for UssdStatus {
    fn from_response(root: &Element) -> Result<Self, Error> {
        let result: i32 = root.required("result")?;
        Ok(UssdStatus {
            dialog_open: result == 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_response;

    #[test]
    fn send_body_has_the_webui_order() {
        assert_eq!(
            send_body(&UssdCode::parse("*100#").unwrap()),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><content>*100#</content><codeType>CodeType</codeType><timeout></timeout></request>"
        );
    }

    #[test]
    fn replies() {
        let got: UssdContent = parse_response(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n\t<content>\n Balance: 5.00 EUR\n</content>\n</response>\n",
        )
        .unwrap();
        assert_eq!(got.content, "Balance: 5.00 EUR");
        assert!(parse_response::<UssdContent>(b"<response><x/></response>").is_err());
        let open: UssdStatus = parse_response(b"<response><result>1</result></response>").unwrap();
        assert!(open.dialog_open);
        let idle: UssdStatus = parse_response(b"<response><result>0</result></response>").unwrap();
        assert!(!idle.dialog_open);
        assert!(parse_response::<UssdStatus>(b"<response></response>").is_err());
        let busy =
            parse_response::<UssdContent>(b"<error><code>111019</code><message></message></error>")
                .unwrap_err();
        assert_eq!(busy.code(), Some(crate::code::USSD_PROCESSING));
    }
}
