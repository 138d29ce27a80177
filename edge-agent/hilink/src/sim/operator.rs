//! What the simulated operator's network answers to USSD codes.
//!
//! Part of the simulator's configuration ([`crate::sim::SimConfig::ussd`]) and changed at run
//! time through its controls; the device state (`state::ussd`) plays the dialogs it describes.

use std::collections::BTreeMap;

/// How the simulated network answers one USSD code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UssdReply {
    /// The network answers with this text (`ussd/get` returns it once it is due).
    Answer(String),
    /// The network is busy with another USSD session (GSM MAP `ussd-Busy`): `ussd/get`
    /// answers 111013. Which code a device shows here is an inference from the code's
    /// name ("in USSD session"); no capture shows it.
    Busy,
    /// The network never answers: `ussd/get` says 111019 until the dialog is released.
    NoAnswer,
    /// The network gives up: `ussd/get` answers 111020.
    NetworkTimeout,
    /// The network offers no USSD: `ussd/send` answers 111022.
    Unsupported,
}

/// The simulated operator's USSD table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UssdService {
    /// Replies by code, exactly as dialled.
    pub replies: BTreeMap<String, UssdReply>,
    /// The reply to a code that is not in the table.
    pub unknown: UssdReply,
}

impl UssdService {
    /// The balance query of the default table.
    pub const BALANCE: &'static str = "*100#";
    /// The balance query's answer in the default table.
    pub const BALANCE_ANSWER: &'static str = "Your balance is 12.34 EUR. Valid until 31.12.2026.";
    /// A code the default table answers with "busy".
    pub const BUSY: &'static str = "*101#";
    /// A code the default table never answers.
    pub const NO_ANSWER: &'static str = "*102#";
    /// A code the network of the default table times out on.
    pub const NETWORK_TIMEOUT: &'static str = "*103#";
    /// The default table's answer to codes it does not know, as many networks word it.
    pub const UNKNOWN_ANSWER: &'static str = "UNKNOWN APPLICATION";

    /// The default table: [`Self::BALANCE`] answers [`Self::BALANCE_ANSWER`],
    /// [`Self::BUSY`] is busy, [`Self::NO_ANSWER`] never answers, [`Self::NETWORK_TIMEOUT`]
    /// times out, anything else gets [`Self::UNKNOWN_ANSWER`].
    pub fn operator() -> Self {
        UssdService {
            replies: BTreeMap::from([
                (
                    Self::BALANCE.to_owned(),
                    UssdReply::Answer(Self::BALANCE_ANSWER.to_owned()),
                ),
                (Self::BUSY.to_owned(), UssdReply::Busy),
                (Self::NO_ANSWER.to_owned(), UssdReply::NoAnswer),
                (Self::NETWORK_TIMEOUT.to_owned(), UssdReply::NetworkTimeout),
            ]),
            unknown: UssdReply::Answer(Self::UNKNOWN_ANSWER.to_owned()),
        }
    }

    /// The same table with `code` answered by `reply`.
    pub fn with_reply(mut self, code: &str, reply: UssdReply) -> Self {
        self.replies.insert(code.to_owned(), reply);
        self
    }

    pub(crate) fn reply_to(&self, code: &str) -> &UssdReply {
        self.replies.get(code).unwrap_or(&self.unknown)
    }
}

impl Default for UssdService {
    fn default() -> Self {
        Self::operator()
    }
}
