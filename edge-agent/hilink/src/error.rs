//! The one error type of the crate, and what a caller should do about each error.
//!
//! Device errors keep the numeric code the modem sent; [`Error::class`] turns every error into
//! one of four reactions (retry later, rebuild the session, give up, or treat the link as down),
//! following the table in `reference/hilink.md` §5. A failed USSD exchange is an
//! [`Error::Ussd`] saying what went wrong in the USSD's own terms ([`UssdError`]).

use std::time::Duration;

use crate::code;
use crate::model::ussd::service_code::CodeProblem;

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
    /// A USSD code got no usable answer.
    #[error("USSD: {0}")]
    Ussd(#[from] UssdError),
}

/// Why a USSD code got no answer. Device codes are named in [`crate::code`]; sources there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UssdError {
    /// The code is not a USSD service code; it was not sent.
    #[error("invalid code: {0}")]
    InvalidCode(CodeProblem),
    /// A USSD session is already in progress on the network or the modem (111013), or the
    /// device is busy (100004): try again later.
    #[error("busy (device error {code})")]
    Busy {
        /// The device's code.
        code: u32,
    },
    /// The network did not answer within the caller's time limit (the device kept saying
    /// 111019); the dialog was released.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The network gave up on the code (111020).
    #[error("the network timed out")]
    NetworkTimeout,
    /// The device has no USSD (100002), or the network offers none (111022).
    #[error("not supported (device error {code})")]
    Unsupported {
        /// The device's code.
        code: u32,
    },
    /// The device refused the code as too long, empty or badly encoded (111014, 111016,
    /// 111017, 111021, 100006).
    #[error("refused by the device (error {code})")]
    Refused {
        /// The device's code.
        code: u32,
    },
    /// The modem failed to run the code (111001, 111012, 111018).
    #[error("failed on the device (error {code})")]
    Failed {
        /// The device's code.
        code: u32,
    },
}

impl UssdError {
    /// The device's error code behind this error, if there is one.
    pub fn code(&self) -> Option<u32> {
        match self {
            UssdError::Busy { code }
            | UssdError::Unsupported { code }
            | UssdError::Refused { code }
            | UssdError::Failed { code } => Some(*code),
            UssdError::NetworkTimeout => Some(code::USSD_TIMEOUT),
            UssdError::InvalidCode(_) | UssdError::Timeout(_) => None,
        }
    }

    /// A stable lower-case name of the kind, for events and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            UssdError::InvalidCode(_) => "invalid_code",
            UssdError::Busy { .. } => "busy",
            UssdError::Timeout(_) => "timeout",
            UssdError::NetworkTimeout => "network_timeout",
            UssdError::Unsupported { .. } => "unsupported",
            UssdError::Refused { .. } => "refused",
            UssdError::Failed { .. } => "failed",
        }
    }

    /// How a caller should react.
    pub fn class(&self) -> ErrorClass {
        match self {
            UssdError::Busy { .. }
            | UssdError::Timeout(_)
            | UssdError::NetworkTimeout
            | UssdError::Failed { .. } => ErrorClass::Retryable,
            UssdError::InvalidCode(_)
            | UssdError::Unsupported { .. }
            | UssdError::Refused { .. } => ErrorClass::Permanent,
        }
    }

    /// The USSD meaning of a device error met during the exchange; `None` for codes that
    /// are not about USSD (session and transport errors keep their own meaning).
    pub fn from_device_code(device_code: u32) -> Option<Self> {
        Some(match device_code {
            code::USSD_IN_SESSION | code::SYSTEM_BUSY => UssdError::Busy { code: device_code },
            code::USSD_TIMEOUT => UssdError::NetworkTimeout,
            code::NOT_SUPPORTED | code::USSD_NOT_SUPPORTED => {
                UssdError::Unsupported { code: device_code }
            }
            code::USSD_TOO_LONG
            | code::USSD_EMPTY
            | code::USSD_CODING_ERROR
            | code::USSD_XML_CHARACTER
            | code::PARAMETER_ERROR => UssdError::Refused { code: device_code },
            code::USSD_ERROR | code::USSD_FUNCTION_FAILED | code::USSD_AT_SEND_FAILED => {
                UssdError::Failed { code: device_code }
            }
            _ => return None,
        })
    }
}

impl Error {
    /// The device's error code, when the device sent one.
    pub fn code(&self) -> Option<u32> {
        match self {
            Error::Device { code, .. } => Some(*code),
            Error::Ussd(ussd) => ussd.code(),
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
            Error::Ussd(ussd) => ussd.class(),
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
    fn ussd_errors_keep_their_code_and_class() {
        let busy = Error::from(UssdError::from_device_code(111013).unwrap());
        assert_eq!(busy.code(), Some(111013));
        assert_eq!(busy.class(), ErrorClass::Retryable);
        assert_eq!(busy.to_string(), "USSD: busy (device error 111013)");
        let unsupported = UssdError::from_device_code(111022).unwrap();
        assert_eq!(unsupported.kind(), "unsupported");
        assert_eq!(unsupported.class(), ErrorClass::Permanent);
        assert_eq!(
            UssdError::from_device_code(111020),
            Some(UssdError::NetworkTimeout)
        );
        assert_eq!(UssdError::from_device_code(125002), None);
        assert_eq!(UssdError::from_device_code(111019), None);
        let timeout = Error::from(UssdError::Timeout(Duration::from_secs(3)));
        assert_eq!(
            (timeout.code(), timeout.class()),
            (None, ErrorClass::Retryable)
        );
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
