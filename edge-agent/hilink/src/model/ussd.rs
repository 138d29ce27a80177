//! USSD requests and replies: `ussd/send`, `ussd/get`, `ussd/status` and `ussd/release`.
//!
//! Shapes from the E3372 WebUI 17 (`WebApp/common/js/ussd.js` in adron-s/e3372h_my_webroot)
//! and huawei-lte-api (`huawei_lte_api/api/Ussd.py`): `send` posts
//! `<content>`, `<codeType>CodeType</codeType>` and an empty `<timeout>`, and answers OK; the
//! answer is then polled with `GET ussd/get` (`<response><content>…</content></response>`),
//! which says 111019 while the network has not answered; `GET ussd/status` has `<result>1</result>`
//! while a USSD dialog is open; `GET ussd/release` closes it.
//!
//! [`check_code`] is the rule for what counts as a service code (`*100#`, `#123*4#`); the
//! client refuses anything else before it reaches the device, and the simulator refuses it
//! the same way a device would.

use std::fmt;

use crate::code;
use crate::error::Error;
use crate::xml::{Element, FromResponse, RequestXml};

/// Longest USSD string: 182 characters of the GSM 7-bit alphabet (3GPP TS 23.038).
pub const MAX_CODE_LEN: usize = 182;

/// Value of `<codeType>` as the WebUI sends it (huawei-lte-api sends `codeType`; devices
/// evidently ignore it).
const CODE_TYPE: &str = "CodeType";

/// Why a string is not a USSD service code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeProblem {
    /// Nothing to send.
    Empty,
    /// Longer than [`MAX_CODE_LEN`].
    TooLong(usize),
    /// Not of the form `*…#` or `#…#` with digits, `*`, `#` and `+` in between.
    NotAServiceCode,
}

impl CodeProblem {
    /// The error code a device answers for such a code: 111016 empty, 111014 too long;
    /// for anything else the simulator answers 100006 (parameter error), a choice, since no
    /// source shows what a device says to a malformed service code.
    pub fn device_code(&self) -> u32 {
        match self {
            CodeProblem::Empty => code::USSD_EMPTY,
            CodeProblem::TooLong(_) => code::USSD_TOO_LONG,
            CodeProblem::NotAServiceCode => code::PARAMETER_ERROR,
        }
    }
}

impl fmt::Display for CodeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeProblem::Empty => f.write_str("the USSD code is empty"),
            CodeProblem::TooLong(len) => write!(
                f,
                "the USSD code has {len} characters, at most {MAX_CODE_LEN}"
            ),
            CodeProblem::NotAServiceCode => f.write_str(
                "a USSD code starts with * or #, ends with #, and has only digits, *, # and + in between",
            ),
        }
    }
}

/// Checks that `code` is a service code such as `*100#`, `#123#` or `*101*1*5#`.
pub fn check_code(code: &str) -> Result<(), CodeProblem> {
    if code.is_empty() {
        return Err(CodeProblem::Empty);
    }
    let len = code.chars().count();
    if len > MAX_CODE_LEN {
        return Err(CodeProblem::TooLong(len));
    }
    let well_formed = code.len() >= 3
        && (code.starts_with('*') || code.starts_with('#'))
        && code.ends_with('#')
        && code.bytes().any(|b| b.is_ascii_digit())
        && code
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'*' | b'#' | b'+'));
    if well_formed {
        Ok(())
    } else {
        Err(CodeProblem::NotAServiceCode)
    }
}

/// The body of `ussd/send`: `content, codeType, timeout`, in the WebUI's order.
pub fn send_body(code: &str) -> String {
    RequestXml::new()
        .field("content", code)
        .field("codeType", CODE_TYPE)
        .field("timeout", "")
        .finish()
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
    fn service_codes() {
        for good in [
            "*100#",
            "#123#",
            "*101*1*5#",
            "**21*+4915112345678#",
            "*#06#",
        ] {
            assert_eq!(check_code(good), Ok(()), "{good}");
        }
        assert_eq!(check_code(""), Err(CodeProblem::Empty));
        for bad in ["*100", "100#", "*abc#", "*#", "##", "* 100#", "1", "*1००#"] {
            assert_eq!(check_code(bad), Err(CodeProblem::NotAServiceCode), "{bad}");
        }
        let long = format!("*{}#", "1".repeat(MAX_CODE_LEN));
        assert_eq!(
            check_code(&long),
            Err(CodeProblem::TooLong(MAX_CODE_LEN + 2))
        );
        assert_eq!(CodeProblem::Empty.device_code(), 111016);
        assert_eq!(CodeProblem::TooLong(200).device_code(), 111014);
    }

    #[test]
    fn send_body_has_the_webui_order() {
        assert_eq!(
            send_body("*100#"),
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
        assert_eq!(busy.code(), Some(code::USSD_PROCESSING));
    }
}
