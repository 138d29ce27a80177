//! Typed requests and replies of the HiLink endpoints the client uses.
//!
//! Each reply type implements [`crate::xml::FromResponse`] and reads its fields by name, so
//! element order, extra elements and missing optional ones do not matter. Request bodies are
//! built with [`crate::xml::RequestXml`] in the order the device's own WebUI uses.

pub mod device;
pub mod session;
pub mod sms;
pub mod ussd;
