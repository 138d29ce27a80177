//! Session, token and login replies and request bodies (`webserver/*`, `user/*`).

use crate::error::Error;
use crate::xml::{Element, FromResponse, RequestXml};

/// Session cookie and CSRF token (`GET webserver/SesTokInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SesTokInfo {
    /// The cookie value without the `SessionID=` prefix some firmware adds; may be empty.
    pub session_id: String,
    /// The CSRF token; may be empty.
    pub token: String,
}

impl FromResponse for SesTokInfo {
    fn from_response(root: &Element) -> Result<Self, Error> {
        let ses_info = root.string("SesInfo");
        let session_id = ses_info
            .strip_prefix("SessionID=")
            .unwrap_or(&ses_info)
            .to_owned();
        Ok(SesTokInfo {
            session_id,
            token: root.string("TokInfo"),
        })
    }
}

/// A CSRF token (`GET webserver/token`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenReply {
    /// The token as sent.
    pub token: String,
}

impl TokenReply {
    /// The part to use: 10.x firmware sends a longer string of which only the part from
    /// character 32 on is used (EV, unconfirmed); 32-character tokens are used whole.
    pub fn usable(&self) -> &str {
        match self.token.get(32..) {
            Some(tail) if !tail.is_empty() => tail,
            _ => &self.token,
        }
    }
}

impl FromResponse for TokenReply {
    fn from_response(root: &Element) -> Result<Self, Error> {
        Ok(TokenReply {
            token: root.string("token"),
        })
    }
}

/// Whether the device requires a login (`GET user/hilink_login`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HilinkLogin {
    /// `1`: a login is needed.
    pub required: bool,
}

impl FromResponse for HilinkLogin {
    fn from_response(root: &Element) -> Result<Self, Error> {
        Ok(HilinkLogin {
            required: root.flag("hilink_login").unwrap_or(false),
        })
    }
}

/// Values of `State` in state-login.
pub mod login_state {
    /// Logged in.
    pub const LOGGED_IN: i32 = 0;
    /// Logged out.
    pub const LOGGED_OUT: i32 = -1;
    /// Repeated login.
    pub const REPEAT: i32 = -2;
}

/// The login state and scheme (`GET user/state-login`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateLogin {
    /// See [`login_state`].
    pub state: Option<i32>,
    /// The logged-in user name.
    pub username: String,
    /// 4 = SHA-256 login, 0 (or missing) = base64.
    pub password_type: Option<u8>,
    /// 1 = the WebUI logs in with SCRAM.
    pub extern_password_type: Option<u8>,
}

impl StateLogin {
    /// True when the session is already logged in.
    pub fn logged_in(&self) -> bool {
        self.state == Some(login_state::LOGGED_IN)
    }

    /// True when the device wants the SCRAM exchange.
    pub fn wants_scram(&self) -> bool {
        self.extern_password_type == Some(1)
    }
}

impl FromResponse for StateLogin {
    fn from_response(root: &Element) -> Result<Self, Error> {
        Ok(StateLogin {
            state: root.num("State"),
            username: root.string("Username"),
            password_type: root.num("password_type"),
            extern_password_type: root.num("extern_password_type"),
        })
    }
}

/// The body of `user/login`.
pub fn login_body(username: &str, password_field: &str, password_type: u8) -> String {
    RequestXml::new()
        .field("Username", username)
        .field("Password", password_field)
        .field("password_type", password_type)
        .finish()
}

/// The body of `user/logout`.
pub fn logout_body() -> String {
    RequestXml::new().field("Logout", 1).finish()
}

/// The body of `user/challenge_login` (SCRAM step 1).
pub fn challenge_login_body(username: &str, first_nonce: &str) -> String {
    RequestXml::new()
        .field("username", username)
        .field("firstnonce", first_nonce)
        .field("mode", 1)
        .finish()
}

/// The body of `user/authentication_login` (SCRAM step 2).
pub fn authentication_login_body(client_proof_hex: &str, final_nonce: &str) -> String {
    RequestXml::new()
        .field("clientproof", client_proof_hex)
        .field("finalnonce", final_nonce)
        .finish()
}

/// Largest PBKDF2 iteration count the client accepts from a device (real ones send 100).
pub const MAX_SCRAM_ITERATIONS: u32 = 100_000;

/// The server's SCRAM challenge (`user/challenge_login` reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramChallenge {
    /// The salt, decoded from hex.
    pub salt: Vec<u8>,
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// The client nonce followed by the server's part.
    pub server_nonce: String,
    /// `modeselected` as sent.
    pub mode_selected: Option<i32>,
    /// `newType` as sent.
    pub new_type: Option<i32>,
}

impl FromResponse for ScramChallenge {
    fn from_response(root: &Element) -> Result<Self, Error> {
        let salt = hex::decode(root.string("salt"))
            .map_err(|_| Error::malformed("challenge_login salt is not hex"))?;
        let iterations: u32 = root.required("iterations")?;
        if iterations == 0 || iterations > MAX_SCRAM_ITERATIONS {
            return Err(Error::malformed(format!(
                "challenge_login asks for {iterations} iterations"
            )));
        }
        let server_nonce = root.string("servernonce");
        if server_nonce.is_empty() {
            return Err(Error::malformed("challenge_login without servernonce"));
        }
        Ok(ScramChallenge {
            salt,
            iterations,
            server_nonce,
            mode_selected: root.num("modeselected"),
            new_type: root.num("newType"),
        })
    }
}

/// The server's SCRAM answer (`user/authentication_login` reply).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScramFinal {
    /// The server signature, hex.
    pub server_signature: String,
    /// HMAC of the RSA modulus under the server key, hex.
    pub rsa_pubkey_signature: String,
    /// RSA public exponent, hex.
    pub rsa_e: String,
    /// RSA modulus, hex.
    pub rsa_n: String,
}

impl FromResponse for ScramFinal {
    fn from_response(root: &Element) -> Result<Self, Error> {
        Ok(ScramFinal {
            server_signature: root.string("serversignature"),
            rsa_pubkey_signature: root.string("rsapubkeysignature"),
            rsa_e: root.string("rsae"),
            rsa_n: root.string("rsan"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_response;

    #[test]
    fn ses_info_with_and_without_prefix() {
        let a: SesTokInfo = parse_response(
            b"<response><SesInfo>SessionID=abc</SesInfo><TokInfo>tok</TokInfo></response>",
        )
        .unwrap();
        let b: SesTokInfo =
            parse_response(b"<response><SesInfo>abc</SesInfo><TokInfo>tok</TokInfo></response>")
                .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.session_id, "abc");
    }

    #[test]
    fn long_token_uses_the_tail() {
        let short = TokenReply {
            token: "a".repeat(32),
        };
        assert_eq!(short.usable(), short.token);
        let long = TokenReply {
            token: format!("{}{}", "a".repeat(32), "b".repeat(32)),
        };
        assert_eq!(long.usable(), "b".repeat(32));
    }

    #[test]
    fn state_login_and_challenge() {
        let s: StateLogin = parse_response(b"<response><State>-1</State><Username></Username><password_type>4</password_type><extern_password_type>1</extern_password_type><firstlogin>1</firstlogin></response>").unwrap();
        assert!(!s.logged_in());
        assert!(s.wants_scram());
        assert_eq!(s.password_type, Some(4));
        let c: ScramChallenge = parse_response(b"<response><salt>ef08</salt><iterations>100</iterations><servernonce>abcd</servernonce><modeselected>1</modeselected><newType>0</newType></response>").unwrap();
        assert_eq!(c.salt, [0xef, 0x08]);
        for bad in [
            &b"<response><salt>zz</salt><iterations>100</iterations><servernonce>a</servernonce></response>"[..],
            b"<response><salt>ef</salt><iterations>0</iterations><servernonce>a</servernonce></response>",
            b"<response><salt>ef</salt><iterations>4000000000</iterations><servernonce>a</servernonce></response>",
            b"<response><salt>ef</salt><iterations>100</iterations></response>",
        ] {
            assert!(parse_response::<ScramChallenge>(bad).is_err());
        }
    }

    #[test]
    fn login_bodies() {
        assert!(login_body("admin", "x", 4).ends_with("<request><Username>admin</Username><Password>x</Password><password_type>4</password_type></request>"));
        assert!(challenge_login_body("admin", "ab").ends_with(
            "<request><username>admin</username><firstnonce>ab</firstnonce><mode>1</mode></request>"
        ));
        assert!(authentication_login_body("cp", "fn").ends_with(
            "<request><clientproof>cp</clientproof><finalnonce>fn</finalnonce></request>"
        ));
    }
}
