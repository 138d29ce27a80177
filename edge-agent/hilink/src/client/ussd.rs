//! The USSD exchange: send a service code, poll until the network answers, close the dialog.
//!
//! As the E3372 WebUI 17 does it (`js/ussd.js`): `POST ussd/send`, then `GET ussd/get` every
//! poll interval while the device answers 111019 ("no answer from the network yet"), then
//! `GET ussd/release`. A dialog already open when we start (left by the WebUI, or by an
//! exchange whose release failed) is released first, as the WebUI does when its USSD page
//! opens; otherwise the device would answer 111013. One exchange at a time per client.

use std::time::{Duration, Instant};

use super::Client;
use crate::code;
use crate::error::{Error, UssdError};
use crate::model::ussd::{UssdAnswer, UssdCode, UssdContent, UssdStatus, send_body};

impl Client {
    /// Sends a USSD code such as `*100#` and waits up to `timeout` for the network's answer.
    ///
    /// Errors are values: a malformed code is [`UssdError::InvalidCode`] and is never sent; a
    /// busy network or modem [`UssdError::Busy`]; no answer in time [`UssdError::Timeout`]
    /// (the dialog is released); a device or network without USSD
    /// [`UssdError::Unsupported`]; other device codes the USSD variant they mean, or
    /// [`Error::Device`] for session codes the client could not recover from. Every request is
    /// also bounded by the configured request timeout.
    pub async fn ussd(&self, code: &str, timeout: Duration) -> Result<UssdAnswer, Error> {
        let code = UssdCode::parse(code).map_err(UssdError::InvalidCode)?;
        let _one_at_a_time = self.ussd_lock.lock().await;
        let status: UssdStatus = self.get("api/ussd/status").await.map_err(in_ussd_terms)?;
        if status.dialog_open {
            tracing::info!("a USSD dialog is open; releasing it before sending");
            self.release_ussd().await;
        }
        let started = Instant::now();
        self.post::<()>("api/ussd/send", &send_body(&code))
            .await
            .map_err(in_ussd_terms)?;
        let answer = self.await_ussd_answer(started + timeout, timeout).await;
        self.release_ussd().await;
        let content = answer?;
        let waited = started.elapsed();
        tracing::debug!(%code, ?waited, "USSD answered");
        Ok(UssdAnswer {
            code,
            content,
            waited,
        })
    }

    /// Polls `ussd/get` until the answer, an error other than 111019, or the deadline.
    async fn await_ussd_answer(
        &self,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<String, Error> {
        loop {
            match self.get::<UssdContent>("api/ussd/get").await {
                Ok(answer) => return Ok(answer.content),
                Err(Error::Device {
                    code: code::USSD_PROCESSING,
                    ..
                }) => {}
                Err(e) => return Err(in_ussd_terms(e)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(UssdError::Timeout(timeout).into());
            }
            tokio::time::sleep(self.ussd_poll_interval.min(deadline - now)).await;
        }
    }

    /// Closes the USSD dialog. Best effort: firmware without `ussd/release` answers 100002,
    /// and a failed release only means the next exchange releases first.
    async fn release_ussd(&self) {
        match self.get::<()>("api/ussd/release").await {
            Ok(()) => {}
            Err(Error::Device {
                code: code::NOT_SUPPORTED,
                ..
            }) => tracing::debug!("this firmware has no ussd/release"),
            Err(e) => tracing::warn!(error = %e, "releasing the USSD dialog failed"),
        }
    }
}

/// A device error during the exchange, in USSD terms where it has a USSD meaning.
fn in_ussd_terms(error: Error) -> Error {
    match error {
        Error::Device { code, .. } => match UssdError::from_device_code(code) {
            Some(ussd) => ussd.into(),
            None => error,
        },
        other => other,
    }
}
