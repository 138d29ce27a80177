//! The device's numeric error codes, named once.
//!
//! A HiLink device answers HTTP 200 with `<error><code>N</code>…</error>` when something goes
//! wrong. The client classifies these codes ([`crate::Error::class`]) and the simulator answers
//! with them, so both halves take the numbers from here. Names follow the Huawei WebUI list
//! (see `reference/hilink.md` §5); where a name is only a guess, its doc comment says so.

/// Unknown error.
pub const UNKNOWN: u32 = 100001;
/// Unsupported API, or wrong path (`ERROR_NOT_SUPPORT`).
pub const NOT_SUPPORTED: u32 = 100002;
/// Login required (`ERROR_NO_RIGHT`).
pub const NO_RIGHT: u32 = 100003;
/// The system is busy (`ERROR_BUSY`).
pub const SYSTEM_BUSY: u32 = 100004;
/// Bad request XML: whitespace, element order or nesting (`ERROR_FORMAT_ERROR`).
pub const FORMAT_ERROR: u32 = 100005;
/// A parameter has a wrong value (`ERROR_PARAMETER_ERROR`).
pub const PARAMETER_ERROR: u32 = 100006;

/// Login: the user name is wrong.
pub const USERNAME_WRONG: u32 = 108001;
/// Login: the password is wrong.
pub const PASSWORD_WRONG: u32 = 108002;
/// Login: the user is already logged in.
pub const ALREADY_LOGGED_IN: u32 = 108003;
/// Login: too many users logged in.
pub const TOO_MANY_USERS: u32 = 108005;
/// Login: user name or password wrong.
pub const USERNAME_OR_PASSWORD_WRONG: u32 = 108006;
/// Login: too many attempts, the account is locked for a while.
pub const LOGIN_LOCKED: u32 = 108007;
/// Login: logged in elsewhere.
pub const LOGGED_IN_ELSEWHERE: u32 = 108009;
/// Login: logins come too often.
pub const LOGIN_TOO_FREQUENT: u32 = 108010;

// USSD codes: names from the Huawei WebUI list (HSPDev/Huawei-E5180-API README,
// siphomateke/huawei-router-api `src/error.js`); what 111019, 111020 and 111022 mean to a
// client from the E3372 WebUI 17 (`WebApp/common/js/ussd.js` in adron-s/e3372h_my_webroot).

/// USSD: unspecified failure.
pub const USSD_ERROR: u32 = 111001;
/// USSD: the modem's USSD function returned an error.
pub const USSD_FUNCTION_FAILED: u32 = 111012;
/// USSD: a USSD session is already in progress (the network or the modem is busy).
pub const USSD_IN_SESSION: u32 = 111013;
/// USSD: the code is too long.
pub const USSD_TOO_LONG: u32 = 111014;
/// USSD: the code is empty.
pub const USSD_EMPTY: u32 = 111016;
/// USSD: the code cannot be encoded.
pub const USSD_CODING_ERROR: u32 = 111017;
/// USSD: the modem could not hand the code to the radio (AT command failed).
pub const USSD_AT_SEND_FAILED: u32 = 111018;
/// USSD: no answer from the network yet (`ussd/get` while waiting; the WebUI polls again).
pub const USSD_PROCESSING: u32 = 111019;
/// USSD: the network timed out; the session is over.
pub const USSD_TIMEOUT: u32 = 111020;
/// USSD: special XML characters in the code could not be converted.
pub const USSD_XML_CHARACTER: u32 = 111021;
/// USSD: the network does not support USSD.
pub const USSD_NOT_SUPPORTED: u32 = 111022;
/// Setting the network mode or band failed.
pub const NET_MODE_SET_FAILED: u32 = 112003;
/// The SIM is not ready.
pub const SIM_NOT_READY: u32 = 112008;

/// Sends came too close together (`ERROR_TOO_MANY_SMS`; throttle to one per ≥2 s).
pub const SMS_TOO_MANY: u32 = 113004;
/// SMS: null or illegal argument.
pub const SMS_ILLEGAL_ARGUMENT: u32 = 113017;
/// SMS operation timed out; the WebUI calls it "system busy" (`ERROR_SMS_OVERTIME`).
pub const SMS_OVERTIME: u32 = 113018;
/// Querying the SMS index list failed.
pub const SMS_QUERY_FAILED: u32 = 113020;
/// Setting the SMS centre number failed.
pub const SMS_CENTER_SET_FAILED: u32 = 113031;
/// Deleting an SMS failed.
pub const SMS_DELETE_FAILED: u32 = 113036;
/// Saving the SMS configuration failed.
pub const SMS_CONFIG_SAVE_FAILED: u32 = 113047;
/// Local SMS storage is full (`ERROR_SMS_LOCAL_SPACE_NOT_ENOUGH`).
pub const SMS_STORAGE_FULL: u32 = 113053;
/// The telephone number is too long.
pub const SMS_NUMBER_TOO_LONG: u32 = 113054;
/// "sms already changed" (10.x firmware only).
pub const SMS_ALREADY_CHANGED: u32 = 113055;
/// "sms not found" (10.x firmware only); a delete of it counts as done.
pub const SMS_NOT_FOUND: u32 = 113114;

/// Password change or phone-book timeout, depending on the source.
pub const PASSWORD_MODIFY: u32 = 115002;
/// Voice busy.
pub const VOICE_BUSY: u32 = 120001;

/// Bad or already used CSRF token (`ERROR_WRONG_TOKEN`).
pub const WRONG_TOKEN: u32 = 125001;
/// Session cookie missing or stale; also on concurrent requests (`ERROR_WRONG_SESSION`).
pub const WRONG_SESSION: u32 = 125002;
/// Token missing or not matching the session (`ERROR_WRONG_SESSION_TOKEN`).
pub const WRONG_SESSION_TOKEN: u32 = 125003;

/// A short name for a code, for logs and error messages; `None` when the code is unknown.
pub fn name(code: u32) -> Option<&'static str> {
    Some(match code {
        UNKNOWN => "unknown error",
        NOT_SUPPORTED => "not supported",
        NO_RIGHT => "login required",
        SYSTEM_BUSY => "system busy",
        FORMAT_ERROR => "request format error",
        PARAMETER_ERROR => "parameter error",
        USERNAME_WRONG => "wrong user name",
        PASSWORD_WRONG => "wrong password",
        ALREADY_LOGGED_IN => "already logged in",
        TOO_MANY_USERS => "too many users",
        USERNAME_OR_PASSWORD_WRONG => "wrong user name or password",
        LOGIN_LOCKED => "too many login attempts",
        LOGGED_IN_ELSEWHERE => "logged in elsewhere",
        LOGIN_TOO_FREQUENT => "logins too frequent",
        USSD_ERROR => "USSD error",
        USSD_FUNCTION_FAILED => "USSD function failed",
        USSD_IN_SESSION => "USSD session in progress",
        USSD_TOO_LONG => "USSD code too long",
        USSD_EMPTY => "USSD code empty",
        USSD_CODING_ERROR => "USSD coding error",
        USSD_AT_SEND_FAILED => "USSD send failed",
        USSD_PROCESSING => "USSD: no network answer yet",
        USSD_TIMEOUT => "USSD: network timeout",
        USSD_XML_CHARACTER => "USSD: special character",
        USSD_NOT_SUPPORTED => "USSD not supported by the network",
        NET_MODE_SET_FAILED => "setting network mode failed",
        SIM_NOT_READY => "SIM not ready",
        SMS_TOO_MANY => "too many SMS",
        SMS_ILLEGAL_ARGUMENT => "SMS: illegal argument",
        SMS_OVERTIME => "SMS overtime (busy)",
        SMS_QUERY_FAILED => "SMS list query failed",
        SMS_CENTER_SET_FAILED => "setting the SMS centre failed",
        SMS_DELETE_FAILED => "SMS delete failed",
        SMS_CONFIG_SAVE_FAILED => "SMS config save failed",
        SMS_STORAGE_FULL => "SMS storage full",
        SMS_NUMBER_TOO_LONG => "telephone number too long",
        SMS_ALREADY_CHANGED => "SMS already changed",
        SMS_NOT_FOUND => "SMS not found",
        PASSWORD_MODIFY => "password modify",
        VOICE_BUSY => "voice busy",
        WRONG_TOKEN => "wrong CSRF token",
        WRONG_SESSION => "wrong session",
        WRONG_SESSION_TOKEN => "wrong session token",
        _ => return None,
    })
}
