//! The operator's USSD service as the device relays it.
//!
//! A table says how the network answers each code ([`UssdService`], set in the simulator's
//! configuration and changed through its controls); one dialog at a time is
//! open, as on a real modem. `ussd/send` forwards a code (a malformed one is refused, a second
//! one while a dialog is open gets 111013), the answer is due `ussd_delay` later, and until then
//! `ussd/get` says 111019, which is what makes clients poll. Every code the device forwarded
//! is logged ([`UssdRequest`]), so tests can see what reached the network.

use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::code as codes;
use crate::model::ussd::UssdCode;
use crate::sim::operator::{UssdReply, UssdService};

/// One code the device forwarded to the network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UssdRequest {
    /// Position in the log, from 1.
    pub seq: u64,
    /// The code as the client sent it.
    pub code: String,
    /// When the device forwarded it, RFC 3339 UTC.
    pub time: String,
}

/// The one USSD dialog of the device.
#[derive(Debug, Clone)]
enum Dialog {
    /// Nothing asked since the last release.
    Idle,
    /// Waiting for the network, which answers `reply` at `due`.
    Waiting { reply: UssdReply, due: Instant },
    /// The network has answered (a text, or an error code); the dialog is closed.
    Finished(Result<String, u32>),
}

/// The USSD side of one simulated device.
#[derive(Debug)]
pub(crate) struct Ussd {
    initial: UssdService,
    service: UssdService,
    dialog: Dialog,
    requests: Vec<UssdRequest>,
}

impl Ussd {
    /// A device on a network answering as `service` says.
    pub fn new(service: UssdService) -> Self {
        Ussd {
            initial: service.clone(),
            service,
            dialog: Dialog::Idle,
            requests: Vec::new(),
        }
    }

    /// Back to the table the simulator was started with, no dialog, an empty log.
    pub fn reset(&mut self) {
        *self = Ussd::new(self.initial.clone());
    }

    /// The table in use.
    pub fn service(&self) -> &UssdService {
        &self.service
    }

    /// Answers `code` with `reply` from now on.
    pub fn set_reply(&mut self, code: &str, reply: UssdReply) {
        self.service.replies.insert(code.to_owned(), reply);
    }

    /// Every code forwarded to the network so far.
    pub fn requests(&self) -> &[UssdRequest] {
        &self.requests
    }

    /// Resolves a due answer.
    fn advance(&mut self, now: Instant) {
        let Dialog::Waiting { reply, due } = &self.dialog else {
            return;
        };
        if now < *due {
            return;
        }
        let finished = match reply {
            UssdReply::Answer(text) => Ok(text.clone()),
            UssdReply::Busy => Err(codes::USSD_IN_SESSION),
            UssdReply::NetworkTimeout => Err(codes::USSD_TIMEOUT),
            // Never due; `Unsupported` is refused at send and never waits.
            UssdReply::NoAnswer | UssdReply::Unsupported => return,
        };
        self.dialog = Dialog::Finished(finished);
    }

    /// `ussd/status`: whether a dialog is open.
    pub fn dialog_open(&mut self, now: Instant) -> bool {
        self.advance(now);
        matches!(self.dialog, Dialog::Waiting { .. })
    }

    /// `ussd/send`: forwards `code`, whose answer is due after `delay`.
    pub fn send(&mut self, now: Instant, code: &str, delay: Duration) -> Result<(), u32> {
        UssdCode::parse(code).map_err(|problem| problem.device_code())?;
        if self.dialog_open(now) {
            return Err(codes::USSD_IN_SESSION);
        }
        self.requests.push(UssdRequest {
            seq: self.requests.len() as u64 + 1,
            code: code.to_owned(),
            time: OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        });
        let reply = self.service.reply_to(code).clone();
        tracing::debug!(code, ?reply, "simulated network got a USSD code");
        if reply == UssdReply::Unsupported {
            self.dialog = Dialog::Idle;
            return Err(codes::USSD_NOT_SUPPORTED);
        }
        self.dialog = Dialog::Waiting {
            reply,
            due: now + delay,
        };
        self.advance(now);
        Ok(())
    }

    /// `ussd/get`: the answer, or 111019 while there is none yet (also when nothing was
    /// asked: the network has not returned anything).
    pub fn get(&mut self, now: Instant) -> Result<String, u32> {
        self.advance(now);
        match &self.dialog {
            Dialog::Finished(result) => result.clone(),
            Dialog::Idle | Dialog::Waiting { .. } => Err(codes::USSD_PROCESSING),
        }
    }

    /// `ussd/release`: closes the dialog, answered or not.
    pub fn release(&mut self) {
        self.dialog = Dialog::Idle;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dialog_from_send_to_answer() {
        let mut ussd = Ussd::new(UssdService::operator());
        let t0 = Instant::now();
        let delay = Duration::from_secs(2);
        assert_eq!(ussd.get(t0), Err(codes::USSD_PROCESSING));
        ussd.send(t0, UssdService::BALANCE, delay).unwrap();
        assert!(ussd.dialog_open(t0));
        assert_eq!(ussd.get(t0), Err(codes::USSD_PROCESSING));
        assert_eq!(
            ussd.send(t0, UssdService::BALANCE, delay),
            Err(codes::USSD_IN_SESSION)
        );
        let later = t0 + delay;
        assert_eq!(ussd.get(later).as_deref(), Ok(UssdService::BALANCE_ANSWER));
        assert!(!ussd.dialog_open(later));
        ussd.send(later, "*999#", Duration::ZERO).unwrap();
        assert_eq!(ussd.get(later).as_deref(), Ok(UssdService::UNKNOWN_ANSWER));
        assert_eq!(ussd.requests().len(), 2);
    }

    #[test]
    fn busy_silent_timeout_unsupported_and_malformed() {
        let service = UssdService::operator().with_reply("*104#", UssdReply::Unsupported);
        let mut ussd = Ussd::new(service);
        let t = Instant::now();
        ussd.send(t, UssdService::BUSY, Duration::ZERO).unwrap();
        assert_eq!(ussd.get(t), Err(codes::USSD_IN_SESSION));
        ussd.send(t, UssdService::NETWORK_TIMEOUT, Duration::ZERO)
            .unwrap();
        assert_eq!(ussd.get(t), Err(codes::USSD_TIMEOUT));
        assert_eq!(
            ussd.send(t, "*104#", Duration::ZERO),
            Err(codes::USSD_NOT_SUPPORTED)
        );
        ussd.send(t, UssdService::NO_ANSWER, Duration::ZERO)
            .unwrap();
        let much_later = t + Duration::from_secs(3600);
        assert_eq!(ussd.get(much_later), Err(codes::USSD_PROCESSING));
        assert!(ussd.dialog_open(much_later));
        ussd.release();
        assert!(!ussd.dialog_open(much_later));
        let before = ussd.requests().len();
        assert_eq!(ussd.send(t, "", Duration::ZERO), Err(codes::USSD_EMPTY));
        assert_eq!(
            ussd.send(t, "*100", Duration::ZERO),
            Err(codes::PARAMETER_ERROR)
        );
        assert_eq!(
            ussd.requests().len(),
            before,
            "malformed codes never leave the device"
        );
        ussd.set_reply("*100", UssdReply::NoAnswer);
        ussd.reset();
        assert_eq!(
            ussd.service(),
            &UssdService::operator().with_reply("*104#", UssdReply::Unsupported)
        );
        assert!(ussd.requests().is_empty());
    }
}
