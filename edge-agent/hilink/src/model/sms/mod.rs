//! SMS requests and replies: send, send-status, list, count, delete, set-read and config.
//!
//! Request builders write the exact element order the WebUI uses; reply readers accept every
//! shape seen on real devices. One file per concern: `send` (the send and its progress),
//! `boxes` (stored messages), `config` (settings).

mod boxes;
mod config;
mod send;

pub use super::DATE_FORMAT;
pub use boxes::{
    BoxType, MAX_READ_COUNT, Message, SmsCount, SmsList, SmsListRequest, delete_sms_body,
    set_read_body, sms_type, smstat,
};
pub use config::SmsConfig;
pub use send::{MAX_PHONES, SendStatus, send_sms_body, text_mode, text_mode_for};
