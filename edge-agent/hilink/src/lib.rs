//! hilink: the Huawei HiLink HTTP/XML API, spoken from both ends.
//!
//! The client is the edge agent's modem driver; the simulator (feature `sim`) behaves like
//! the device so that the agent can be tested without one. Protocol notes:
//! `../shared/reference/hilink.md` beside the repository.
//!
//! Client layout: [`client`] (the operations, one call, the session and its login),
//! [`auth`] (login arithmetic), [`xml`] (decoding, parsing, request bodies), [`model`]
//! (typed requests and replies), [`error`] and [`code`] (device error codes and their
//! classes), [`headers`] (the CSRF header names). [`auth`], [`code`], [`headers`], [`model`]
//! and [`xml`] are shared with the simulator, which sits on top of them and is never used
//! by the client.

pub mod auth;
pub mod client;
pub mod code;
pub mod error;
pub mod headers;
pub mod model;
#[cfg(feature = "sim")]
pub mod sim;
pub mod xml;

pub use client::{Client, Config};
pub use error::{Error, ErrorClass, UssdError};
pub use model::device::{
    CurrentPlmn, DeviceInformation, MonitoringStatus, Notifications, Signal, TrafficStatistics,
};
pub use model::sms::{BoxType, Message, SendStatus, SmsConfig, SmsCount, SmsList, SmsListRequest};
pub use model::ussd::UssdAnswer;
