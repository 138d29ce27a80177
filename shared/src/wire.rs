//! The MQTT payloads of the contract (DESIGN §3), one type per topic kind.
//!
//! All payloads are JSON objects with `"v": 1`; unknown fields are ignored so that a newer
//! sender does not break an older receiver; enums are snake_case; times are RFC 3339.
//! [`decode`] gives a typed [`DecodeError`] for every way a payload can be wrong, so that a
//! subscriber can log, count and acknowledge it without ever crashing its loop.
//! `asyncapi.yaml` documents the same payloads for other systems, and the tests check
//! every golden example against both.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::DeserializeOwned};
use time::OffsetDateTime;

use crate::{
    ids::{EventId, MessageId, ModemId},
    phone::PhoneNumber,
    sms::MessageText,
    state::MessageState,
    topic::TopicKind,
};

/// The contract version every payload carries as `"v"`.
pub const VERSION: u64 = 1;

/// The `"v": 1` field: serialises as 1 and accepts nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct V1;

impl Serialize for V1 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(VERSION)
    }
}

impl<'de> Deserialize<'de> for V1 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u64::deserialize(d)? {
            VERSION => Ok(V1),
            other => Err(serde::de::Error::custom(format!(
                "unsupported payload version {other}"
            ))),
        }
    }
}

/// How urgent an outbound SMS is: a modem's queue is worked by priority, then in order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Bulk traffic: sent when nothing else waits.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Alerts and one-time codes: sent before everything else.
    High,
}

impl Priority {
    /// The stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
        }
    }
}

/// `smsgw/{site}/command/send`: the API asks the site's agent to send one SMS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendCommand {
    /// Contract version.
    pub v: V1,
    /// The message; the agent deduplicates by it, so a repeated command never sends twice.
    pub id: MessageId,
    /// The recipient.
    pub to: PhoneNumber,
    /// The text, already checked against the modem's limits.
    pub text: MessageText,
    /// A modem to use; any healthy modem of the site when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modem: Option<ModemId>,
    /// Order in the modem's queue.
    #[serde(default)]
    pub priority: Priority,
    /// Not to be sent after this time (the agent reports `expired`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// Ask the network for a delivery report.
    pub delivery_report: bool,
    /// When the API published this command (re-dispatches carry a new time).
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
}

/// `smsgw/{site}/command/cancel`: cancel an SMS the agent has not handed to a modem yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancelCommand {
    /// Contract version.
    pub v: V1,
    /// The message to cancel.
    pub id: MessageId,
}

/// `smsgw/{site}/command/ack`: the API has committed these events; the agent may forget them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AckCommand {
    /// Contract version.
    pub v: V1,
    /// The committed events.
    pub event_ids: Vec<EventId>,
}

/// Why a send failed, as the agent reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCode {
    /// The modem said it was busy (HiLink 100004, 113018, 113004).
    ModemBusy,
    /// The modem did not answer (connection refused, timeout).
    ModemUnreachable,
    /// The modem refused the request for good (a device error code).
    ModemRejected,
    /// The modem's SMS storage is full (HiLink 113053).
    StorageFull,
    /// The modem's session or login failed (HiLink 125xxx, 108xxx).
    Session,
    /// The network refused the SMS to this number (`FailPhone`).
    NetworkRejected,
    /// The command itself was unusable.
    InvalidCommand,
    /// A failure inside the agent.
    Internal,
    /// A code this version does not know (sent by a newer agent).
    #[serde(other)]
    Unknown,
}

/// The error part of a status event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// What went wrong, in the contract's terms.
    pub code: FailureCode,
    /// The device's own error code, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modem_code: Option<i64>,
    /// Whether the agent will try again.
    pub retryable: bool,
    /// A sentence for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `smsgw/{site}/event/status`: an outbound message changed state at the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusEvent {
    /// Contract version.
    pub v: V1,
    /// This event; acknowledged by the API with `command/ack`.
    pub event_id: EventId,
    /// The message.
    pub id: MessageId,
    /// The state it reached.
    pub state: MessageState,
    /// The modem that has it, once one was chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modem: Option<ModemId>,
    /// When the state was reached.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Send attempts so far (0 before the first).
    pub attempt: u32,
    /// Why the attempt failed, for `failed` and for retried attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
}

/// The states an agent reports; the others belong to the API.
pub const AGENT_STATES: [MessageState; 8] = [
    MessageState::Accepted,
    MessageState::Sending,
    MessageState::Sent,
    MessageState::Delivered,
    MessageState::Undelivered,
    MessageState::Failed,
    MessageState::Expired,
    MessageState::Canceled,
];

/// `smsgw/{site}/event/inbound`: an SMS arrived at a modem of the site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEvent {
    /// Contract version.
    pub v: V1,
    /// This event; the API stores the SMS once per event id.
    pub event_id: EventId,
    /// The sender as the network gave it: a number, or a name such as `BANK`.
    pub from: String,
    /// The text, with all its segments joined.
    pub text: String,
    /// The modem that received it.
    pub modem: ModemId,
    /// When the modem received it.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// Segments it arrived in.
    pub segments: u32,
}

/// Whether an agent is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Connected (published by the agent on every connect).
    Online,
    /// Gone (the agent's Last Will, or a clean shutdown).
    Offline,
}

/// `smsgw/{site}/state/conn` (retained): the agent's presence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnState {
    /// Contract version.
    pub v: V1,
    /// Online or offline.
    pub state: Presence,
    /// The agent's connection counter, also in its Will, so that a late Will of an older
    /// session never marks a newer session offline.
    pub session: u64,
    /// The agent's version.
    pub agent_version: String,
    /// When this was published (for a Will: when the session began).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The radio access technology a modem is registered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rat {
    /// 2G.
    Gsm,
    /// 3G.
    Umts,
    /// 4G.
    Lte,
    /// 5G.
    Nr,
}

/// The SIM card of a modem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimState {
    /// Ready to use.
    Ready,
    /// No SIM in the modem.
    Absent,
    /// Waiting for a PIN.
    PinRequired,
    /// Blocked, waiting for a PUK.
    PukRequired,
    /// Present but refused by the network or the modem.
    Invalid,
    /// The modem did not say.
    Unknown,
}

/// The agent's circuit breaker for a modem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Circuit {
    /// Healthy: requests flow.
    Closed,
    /// Failing: no requests until the probe time.
    Open,
    /// Probing with one request.
    HalfOpen,
}

/// Signal quality as the modem reports it (absent values are not reported by that RAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Signal {
    /// Bars 0–5 as the modem's own UI shows them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bars: Option<u8>,
    /// RSSI in dBm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rssi: Option<i32>,
    /// RSRP in dBm (LTE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsrp: Option<i32>,
    /// SINR in dB (LTE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sinr: Option<i32>,
}

/// SMS storage of a modem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Storage {
    /// Messages stored.
    pub used: u32,
    /// Messages it can hold.
    pub max: u32,
}

/// The health of one modem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModemHealth {
    /// The modem.
    pub id: ModemId,
    /// Device model, e.g. `E3372`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
    /// IMEI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imei: Option<String>,
    /// Network operator name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Radio technology, when registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rat: Option<Rat>,
    /// Signal quality.
    #[serde(default)]
    pub signal: Signal,
    /// The SIM card.
    pub sim: SimState,
    /// Registered on a network.
    pub registered: bool,
    /// The agent's circuit breaker for this modem.
    pub circuit: Circuit,
    /// Messages waiting for this modem at the agent.
    pub queue: u32,
    /// SMS storage in the modem.
    pub storage: Storage,
}

/// `smsgw/{site}/state/modems` (retained): the health of every modem of the site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModemsState {
    /// Contract version.
    pub v: V1,
    /// The agent's connection counter (as in `state/conn`).
    pub session: u64,
    /// When this was measured.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Every configured modem.
    pub modems: Vec<ModemHealth>,
}

/// Why a payload was refused. Each names the payload kind, for logs and metrics labels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON at all (or not UTF-8).
    #[error("{kind}: not JSON: {detail}")]
    NotJson {
        /// The payload kind expected.
        kind: &'static str,
        /// The parser's message.
        detail: String,
    },
    /// JSON, but not an object.
    #[error("{kind}: the payload is not a JSON object")]
    NotAnObject {
        /// The payload kind expected.
        kind: &'static str,
    },
    /// No `"v"` field.
    #[error("{kind}: the payload has no \"v\" field")]
    MissingVersion {
        /// The payload kind expected.
        kind: &'static str,
    },
    /// A `"v"` this version does not speak.
    #[error("{kind}: unsupported payload version {version}")]
    UnsupportedVersion {
        /// The payload kind expected.
        kind: &'static str,
        /// The version found, as JSON text.
        version: String,
    },
    /// A field is missing, of the wrong type or holds an invalid value.
    #[error("{kind}: {detail}")]
    Invalid {
        /// The payload kind expected.
        kind: &'static str,
        /// What is wrong, naming the field.
        detail: String,
    },
}

impl DecodeError {
    /// A short stable name of the error, for a metrics label.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::NotJson { .. } => "not_json",
            DecodeError::NotAnObject { .. } => "not_object",
            DecodeError::MissingVersion { .. } => "missing_version",
            DecodeError::UnsupportedVersion { .. } => "unsupported_version",
            DecodeError::Invalid { .. } => "invalid",
        }
    }
}

/// A payload of the contract.
pub trait Payload: Serialize + DeserializeOwned {
    /// The topic kind it travels on.
    const KIND: TopicKind;

    /// Checks what serde cannot express; called after deserialising.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

impl Payload for SendCommand {
    const KIND: TopicKind = TopicKind::CommandSend;
}
impl Payload for CancelCommand {
    const KIND: TopicKind = TopicKind::CommandCancel;
}
impl Payload for AckCommand {
    const KIND: TopicKind = TopicKind::CommandAck;
}
impl Payload for StatusEvent {
    const KIND: TopicKind = TopicKind::EventStatus;

    fn check(&self) -> Result<(), String> {
        if AGENT_STATES.contains(&self.state) {
            Ok(())
        } else {
            Err(format!(
                "state: `{}` is not reported by an agent",
                self.state
            ))
        }
    }
}
impl Payload for InboundEvent {
    const KIND: TopicKind = TopicKind::EventInbound;
}
impl Payload for ConnState {
    const KIND: TopicKind = TopicKind::StateConn;
}
impl Payload for ModemsState {
    const KIND: TopicKind = TopicKind::StateModems;
}

/// Encodes a payload as compact JSON.
pub fn encode<T: Payload>(payload: &T) -> Vec<u8> {
    // Serialising these plain structs to a Vec cannot fail: every map key is a string.
    serde_json::to_vec(payload).unwrap_or_default()
}

/// Decodes a payload, with a typed error for every way it can be wrong.
pub fn decode<T: Payload>(bytes: &[u8]) -> Result<T, DecodeError> {
    let kind = T::KIND.suffix();
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::NotJson {
            kind,
            detail: e.to_string(),
        })?;
    let object = value.as_object().ok_or(DecodeError::NotAnObject { kind })?;
    match object.get("v") {
        None => return Err(DecodeError::MissingVersion { kind }),
        Some(v) if v.as_u64() != Some(VERSION) => {
            return Err(DecodeError::UnsupportedVersion {
                kind,
                version: v.to_string(),
            });
        }
        Some(_) => {}
    }
    let payload = T::deserialize(value).map_err(|e| DecodeError::Invalid {
        kind,
        detail: e.to_string(),
    })?;
    payload
        .check()
        .map_err(|detail| DecodeError::Invalid { kind, detail })?;
    Ok(payload)
}

/// Any payload, chosen by the topic it arrived on.
#[derive(Debug, Clone, PartialEq)]
pub enum WireMessage {
    /// `command/send`.
    Send(SendCommand),
    /// `command/cancel`.
    Cancel(CancelCommand),
    /// `command/ack`.
    Ack(AckCommand),
    /// `event/status`.
    Status(StatusEvent),
    /// `event/inbound`.
    Inbound(InboundEvent),
    /// `state/conn`.
    Conn(ConnState),
    /// `state/modems`.
    Modems(ModemsState),
}

impl WireMessage {
    /// Decodes the payload of a message that arrived on a topic of `kind`.
    pub fn decode(kind: TopicKind, bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(match kind {
            TopicKind::CommandSend => WireMessage::Send(decode(bytes)?),
            TopicKind::CommandCancel => WireMessage::Cancel(decode(bytes)?),
            TopicKind::CommandAck => WireMessage::Ack(decode(bytes)?),
            TopicKind::EventStatus => WireMessage::Status(decode(bytes)?),
            TopicKind::EventInbound => WireMessage::Inbound(decode(bytes)?),
            TopicKind::StateConn => WireMessage::Conn(decode(bytes)?),
            TopicKind::StateModems => WireMessage::Modems(decode(bytes)?),
        })
    }

    /// The topic kind this payload travels on.
    pub fn kind(&self) -> TopicKind {
        match self {
            WireMessage::Send(_) => TopicKind::CommandSend,
            WireMessage::Cancel(_) => TopicKind::CommandCancel,
            WireMessage::Ack(_) => TopicKind::CommandAck,
            WireMessage::Status(_) => TopicKind::EventStatus,
            WireMessage::Inbound(_) => TopicKind::EventInbound,
            WireMessage::Conn(_) => TopicKind::StateConn,
            WireMessage::Modems(_) => TopicKind::StateModems,
        }
    }

    /// Encodes the payload.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            WireMessage::Send(p) => encode(p),
            WireMessage::Cancel(p) => encode(p),
            WireMessage::Ack(p) => encode(p),
            WireMessage::Status(p) => encode(p),
            WireMessage::Inbound(p) => encode(p),
            WireMessage::Conn(p) => encode(p),
            WireMessage::Modems(p) => encode(p),
        }
    }
}
