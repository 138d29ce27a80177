//! Device error codes the simulator answers with (protocol notes §5).
//!
//! Kept in one place so that they can be replaced by the client's own constants once both
//! halves of the crate share one table.

/// Unsupported API or wrong path.
pub const NOT_SUPPORT: u32 = 100002;
/// Login required.
pub const NO_RIGHT: u32 = 100003;
/// System busy.
pub const BUSY: u32 = 100004;
/// Malformed request XML (on 10.x firmware also pretty-printed XML).
pub const FORMAT_ERROR: u32 = 100005;
/// A parameter has a value the device does not accept.
pub const PARAMETER_ERROR: u32 = 100006;
/// Wrong user name or password.
pub const USERNAME_PWD_WRONG: u32 = 108006;
/// Sends come too close together.
pub const TOO_MANY_SMS: u32 = 113004;
/// The SMS module timed out (the WebUI calls it "system busy").
pub const SMS_OVERTIME: u32 = 113018;
/// Local SMS storage is full.
pub const SMS_LOCAL_SPACE_NOT_ENOUGH: u32 = 113053;
/// No such message (10.x firmware only).
pub const SMS_NOT_FOUND: u32 = 113114;
/// The CSRF token is unknown or used up.
pub const WRONG_TOKEN: u32 = 125001;
/// The session cookie is missing or stale.
pub const WRONG_SESSION: u32 = 125002;
/// No token was sent with a POST.
pub const WRONG_SESSION_TOKEN: u32 = 125003;
/// A send without recipients (null or illegal argument).
pub const SMS_NULL_ARGUMENT: u32 = 113017;
