//! The one error type of the crate, and what a caller should do about each error.
//!
//! Device errors keep the numeric code the modem sent; [`Error::class`] turns every error into
//! one of four reactions (retry later, rebuild the session, give up, or treat the link as down),
//! following the table in `reference/hilink.md` §5.

use crate::code;

/// What a caller should do after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The device is busy or throttling: retry the same request after a delay.
    Retryable,
    /// The session, token or login is stale: rebuild the session, then retry once.
    RefreshSession,
    /// Retrying will not help until something changes (the request, the config, the storage).
    Permanent,
    /// The device did not answer properly (connection refused, timeout, HTTP failure).
    Transport,
}

/// Everything that can go wrong talking to a HiLink device.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The device answered with an `<error>` body.
    #[error("device error {code} ({})", code::name(*code).unwrap_or("unknown code"))]
    Device {
        /// The numeric code from `<code>`; named in [`crate::code`].
        code: u32,
        /// The `<message>` text; almost always empty.
        message: String,
    },
    /// Connecting, sending or receiving failed, or a timeout struck.
    #[error("transport: {0}")]
    Transport(#[source] reqwest::Error),
    /// The device answered with an HTTP status other than 2xx (real devices never do).
    #[error("HTTP status {0}")]
    HttpStatus(u16),
    /// The reply was not the XML expected (not XML, wrong root, missing or bad field).
    #[error("malformed reply: {0}")]
    Malformed(String),
    /// The reply body exceeded the size limit.
    #[error("reply larger than {0} bytes")]
    TooLarge(usize),
    /// The device wants a login and no credentials were configured.
    #[error("the device requires a login and no credentials are configured")]
    CredentialsMissing,
    /// The login exchange failed on our side (e.g. the server's SCRAM signature is wrong).
    #[error("login failed: {0}")]
    Login(String),
    /// The caller asked for something the client refuses to send.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl Error {
    /// The device's error code, when the device sent one.
    pub fn code(&self) -> Option<u32> {
        match self {
            Error::Device { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// How a caller should react to this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Device { code, .. } => class_of(*code),
            Error::Transport(_) => ErrorClass::Transport,
            Error::HttpStatus(status) if *status >= 500 => ErrorClass::Transport,
            Error::HttpStatus(_) => ErrorClass::Permanent,
            Error::Malformed(_) | Error::TooLarge(_) => ErrorClass::Permanent,
            Error::CredentialsMissing | Error::Login(_) | Error::InvalidRequest(_) => {
                ErrorClass::Permanent
            }
        }
    }

    pub(crate) fn malformed(what: impl Into<String>) -> Self {
        Error::Malformed(what.into())
    }
}

/// The class of a device error code (`reference/hilink.md` §5). Unknown codes are permanent.
pub fn class_of(device_code: u32) -> ErrorClass {
    use ErrorClass::*;
    match device_code {
        code::SYSTEM_BUSY
        | code::TOO_MANY_USERS
        | code::LOGIN_LOCKED
        | code::LOGGED_IN_ELSEWHERE
        | code::LOGIN_TOO_FREQUENT
        | code::USSD_ERROR
        | code::USSD_FUNCTION_FAILED
        | code::USSD_IN_SESSION
        | code::USSD_AT_SEND_FAILED
        | code::USSD_PROCESSING
        | code::USSD_TIMEOUT
        | code::SIM_NOT_READY
        | code::SMS_TOO_MANY
        | code::SMS_OVERTIME
        | code::SMS_QUERY_FAILED
        | code::SMS_DELETE_FAILED
        | code::SMS_CONFIG_SAVE_FAILED
        | code::VOICE_BUSY => Retryable,
        code::NO_RIGHT
        | code::ALREADY_LOGGED_IN
        | code::WRONG_TOKEN
        | code::WRONG_SESSION
        | code::WRONG_SESSION_TOKEN => RefreshSession,
        _ => Permanent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_table() {
        for c in [113018, 100004, 113004, 108007, 112008, 120001] {
            assert_eq!(class_of(c), ErrorClass::Retryable, "{c}");
        }
        for c in [125001, 125002, 125003, 100003] {
            assert_eq!(class_of(c), ErrorClass::RefreshSession, "{c}");
        }
        for c in [113053, 100005, 100002, 100006, 108002, 113114, 999_999, 0] {
            assert_eq!(class_of(c), ErrorClass::Permanent, "{c}");
        }
    }

    #[test]
    fn display_names_the_code() {
        let e = Error::Device {
            code: code::SMS_STORAGE_FULL,
            message: String::new(),
        };
        assert_eq!(e.to_string(), "device error 113053 (SMS storage full)");
        assert_eq!(e.code(), Some(113053));
        assert_eq!(e.class(), ErrorClass::Permanent);
    }
}
