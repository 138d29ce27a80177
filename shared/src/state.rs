//! The life of a message: its states, their order, and which transitions are allowed.
//!
//! Both ends apply a status only when it moves the message forward, so duplicated and
//! reordered MQTT events are harmless (DESIGN §2). The order of an outbound message is
//! `pending < queued < dispatched < accepted < sending < sent < delivered | undelivered`;
//! `failed`, `expired` and `canceled` end it early. An inbound message is `received` and
//! stays so.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Accepted by the API, waiting for its scheduled time.
    Pending,
    /// Stored by the API, waiting to be dispatched to a site.
    Queued,
    /// Published to the site's agent, not yet confirmed by it.
    Dispatched,
    /// The agent has journalled the command.
    Accepted,
    /// The agent is handing it to a modem.
    Sending,
    /// The modem reports that the network took it.
    Sent,
    /// The delivery report says the handset got it.
    Delivered,
    /// The delivery report says it could not be delivered.
    Undelivered,
    /// Sending failed for good.
    Failed,
    /// Its `expires_at` passed before it could be sent.
    Expired,
    /// Canceled before it was sent.
    Canceled,
    /// An inbound SMS.
    Received,
}

/// Why a state name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown message status {0:?} (known: pending, queued, dispatched, accepted, sending, sent, delivered, undelivered, failed, expired, canceled, received)"
)]
pub struct UnknownState(pub String);

impl MessageState {
    /// Every state, in order.
    pub const ALL: [MessageState; 12] = [
        MessageState::Pending,
        MessageState::Queued,
        MessageState::Dispatched,
        MessageState::Accepted,
        MessageState::Sending,
        MessageState::Sent,
        MessageState::Delivered,
        MessageState::Undelivered,
        MessageState::Failed,
        MessageState::Expired,
        MessageState::Canceled,
        MessageState::Received,
    ];

    /// The stable lower-case name used on the wire, in the API and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Pending => "pending",
            MessageState::Queued => "queued",
            MessageState::Dispatched => "dispatched",
            MessageState::Accepted => "accepted",
            MessageState::Sending => "sending",
            MessageState::Sent => "sent",
            MessageState::Delivered => "delivered",
            MessageState::Undelivered => "undelivered",
            MessageState::Failed => "failed",
            MessageState::Expired => "expired",
            MessageState::Canceled => "canceled",
            MessageState::Received => "received",
        }
    }

    /// Position on the path of an outbound message; `None` for `received`. The early
    /// ends share the rank of the last state they may follow.
    fn rank(self) -> Option<u8> {
        Some(match self {
            MessageState::Pending => 0,
            MessageState::Queued => 1,
            MessageState::Dispatched => 2,
            MessageState::Accepted => 3,
            MessageState::Sending => 4,
            MessageState::Sent => 5,
            MessageState::Delivered | MessageState::Undelivered => 6,
            MessageState::Failed | MessageState::Expired | MessageState::Canceled => 6,
            MessageState::Received => return None,
        })
    }

    /// Nothing follows this state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            MessageState::Delivered
                | MessageState::Undelivered
                | MessageState::Failed
                | MessageState::Expired
                | MessageState::Canceled
                | MessageState::Received
        )
    }

    /// A message in this state can still be canceled (it has not reached a modem).
    pub fn is_cancelable(self) -> bool {
        can_advance(self, MessageState::Canceled)
    }
}

/// Whether a message in state `from` may move to `to`.
///
/// Only forward moves are allowed, so applying the same event twice, or an older event
/// after a newer one, changes nothing. `canceled` and `expired` only come before the
/// modem has the message (`sending` or later cannot be called back), `failed` only before
/// it was `sent`; `delivered` and `undelivered` may come straight after any earlier state
/// because a delivery report can overtake the `sent` event.
pub fn can_advance(from: MessageState, to: MessageState) -> bool {
    use MessageState::*;
    if from.is_terminal() {
        return false;
    }
    let (Some(f), Some(t)) = (from.rank(), to.rank()) else {
        return false;
    };
    match to {
        Canceled | Expired => f < Sending.rank().unwrap_or(0),
        Failed => f < Sent.rank().unwrap_or(0),
        _ => t > f,
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MessageState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, UnknownState> {
        MessageState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::{MessageState::*, *};

    #[test]
    fn names_round_trip() {
        for state in MessageState::ALL {
            assert_eq!(state.as_str().parse::<MessageState>(), Ok(state));
            let json = serde_json::to_string(&state).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
        assert_eq!(
            "SENT".parse::<MessageState>(),
            Err(UnknownState("SENT".into()))
        );
    }

    #[test]
    fn the_happy_path_moves_forward_only() {
        let path = [
            Pending, Queued, Dispatched, Accepted, Sending, Sent, Delivered,
        ];
        for (i, &a) in path.iter().enumerate() {
            for (j, &b) in path.iter().enumerate() {
                assert_eq!(can_advance(a, b), j > i, "{a} -> {b}");
            }
        }
    }

    #[test]
    fn terminal_states_never_move() {
        for from in MessageState::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in MessageState::ALL {
                assert!(!can_advance(from, to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn early_ends() {
        for from in [Pending, Queued, Dispatched, Accepted] {
            assert!(
                can_advance(from, Canceled) && can_advance(from, Expired),
                "{from}"
            );
            assert!(can_advance(from, Failed));
        }
        assert!(!can_advance(Sending, Canceled) && !can_advance(Sending, Expired));
        assert!(can_advance(Sending, Failed));
        assert!(!can_advance(Sent, Failed) && !can_advance(Sent, Canceled));
        assert!(can_advance(Sent, Undelivered));
        assert!(
            can_advance(Accepted, Delivered),
            "a report may overtake `sent`"
        );
        assert!(!Sending.is_cancelable() && Queued.is_cancelable());
    }

    #[test]
    fn received_is_apart() {
        for state in MessageState::ALL {
            assert!(!can_advance(state, Received));
            assert!(!can_advance(Received, state));
        }
    }
}
