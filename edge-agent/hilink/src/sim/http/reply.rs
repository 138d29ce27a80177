//! What a device API handler gets and gives: the request context, the reply, and the small
//! readers and cookie helpers the handlers and the gate share.

use std::time::Instant;

use axum::http::{HeaderMap, header};

use crate::code as codes;
use crate::sim::config::Profile;
use crate::sim::simulator::Simulator;
use crate::sim::state::State;
use crate::sim::state::sessions::Session;
use crate::sim::xml::{self, Element};

/// What one API call answers: the XML body and extra headers.
#[derive(Debug)]
pub(crate) struct Reply {
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
    /// The handler already put the next tokens in the headers (logins do).
    pub tokens_set: bool,
}

impl Reply {
    /// A `<response>` document.
    pub fn xml(body: String) -> Self {
        Reply {
            body,
            headers: Vec::new(),
            tokens_set: false,
        }
    }

    /// `<response>OK</response>`.
    pub fn ok() -> Self {
        Reply::xml(xml::ok())
    }

    /// An `<error>` document with a device error code.
    pub fn error(code: u32) -> Self {
        Reply::xml(xml::error(code))
    }

    /// OK, or the error code.
    pub fn from_result(result: Result<(), u32>) -> Self {
        match result {
            Ok(()) => Reply::ok(),
            Err(code) => Reply::error(code),
        }
    }

    /// Adds a reply header.
    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Hands out session `id`.
    pub fn set_cookie(self, id: &str) -> Self {
        self.header("Set-Cookie", set_cookie_value(id))
    }
}

/// What a handler knows about the request besides its body.
pub(crate) struct Ctx<'a> {
    pub sim: &'a Simulator,
    pub profile: Profile,
    pub now: Instant,
    /// The caller's session id, when the profile has sessions.
    pub session: Option<String>,
    /// The token the POST carried.
    pub token: Option<String>,
}

impl Ctx<'_> {
    /// The session the call runs in.
    pub fn session_in<'s>(&self, state: &'s mut State) -> Option<&'s mut Session> {
        self.session
            .as_deref()
            .and_then(|id| state.sessions.get_mut(id))
    }
}

/// The `Set-Cookie` value that hands out session `id`.
pub(crate) fn set_cookie_value(id: &str) -> String {
    format!("SessionID={id}; path=/; HttpOnly")
}

/// The `SessionID` cookie of a request.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "SessionID")
        .map(|(_, value)| value.to_owned())
}

/// Reads a number field, treating a missing or empty one as `default`.
pub(crate) fn number<T: std::str::FromStr>(
    request: &Element,
    name: &str,
    default: T,
) -> Result<T, u32> {
    match request.trimmed(name) {
        None | Some("") => Ok(default),
        Some(text) => text.parse().map_err(|_| codes::PARAMETER_ERROR),
    }
}

/// Reads a flag sent as `0`/`1` or, by huawei-lte-api, as `true`/`false`.
pub(crate) fn flag(request: &Element, name: &str) -> Option<bool> {
    match request.trimmed(name)?.to_ascii_lowercase().as_str() {
        "1" | "true" => Some(true),
        "0" | "false" | "" => Some(false),
        _ => None,
    }
}
