//! Typed requests and replies of the HiLink endpoints the client uses.
//!
//! Each reply type implements [`crate::xml::FromResponse`] and reads its fields by name, so
//! element order, extra elements and missing optional ones do not matter. Request bodies are
//! built with [`crate::xml::RequestXml`] in the order the device's own WebUI uses.

pub mod device;
pub mod login;
pub mod sms;
pub mod ussd;

use time::macros::format_description;

/// The `Date` format of requests and replies: device-local `YYYY-MM-DD hh:mm:ss`.
pub const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
