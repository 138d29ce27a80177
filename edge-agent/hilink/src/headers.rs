//! The HTTP header names of the CSRF token flow (`reference/hilink.md` §2.2), named once.
//!
//! A POST carries its token in [`TOKEN`]; a reply hands out the next ones in [`TOKEN`]
//! (after a password_type 4 login possibly `#`-joined) or, after a SCRAM login and on
//! routers, in [`TOKEN_ONE`] then [`TOKEN_TWO`]. The client reads these names in any case
//! (HTTP header names are case-insensitive); the simulator writes them as the device does.

/// The request and reply header that carries one CSRF token.
pub const TOKEN: &str = "__RequestVerificationToken";
/// The first of two reply headers carrying new tokens.
pub const TOKEN_ONE: &str = "__RequestVerificationTokenone";
/// The second of two reply headers carrying new tokens.
pub const TOKEN_TWO: &str = "__RequestVerificationTokentwo";
