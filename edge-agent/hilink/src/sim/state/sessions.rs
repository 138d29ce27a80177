//! The device's sessions and CSRF tokens as 22.x/10.x firmware hands them out (protocol
//! notes §2).
//!
//! A session is created by `GET /` (Set-Cookie) or `webserver/SesTokInfo`. Every POST must
//! carry one of the session's two newest tokens; each accepted POST issues a new one in the
//! `__RequestVerificationToken` reply header. Keeping the previous token valid is what lets
//! huawei-lte-api work, since it re-sends a token once (notes §2.2).

use std::collections::{HashMap, VecDeque};

use rand::RngExt as _;

/// Characters session ids and tokens are made of (they look base64 on real devices).
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Length of a `SessionID` value.
const SESSION_ID_LEN: usize = 128;
/// Length of a CSRF token.
pub const TOKEN_LEN: usize = 32;
/// How many tokens of a session are valid at once: the newest and the one before.
const VALID_TOKENS: usize = 2;
/// Sessions kept before the oldest is forgotten.
const MAX_SESSIONS: usize = 64;

/// A random string of the device's alphabet.
pub fn random_string(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// A SCRAM exchange between `challenge_login` and `authentication_login`.
#[derive(Debug, Clone)]
pub struct PendingScram {
    /// The client's nonce.
    pub first_nonce: String,
    /// The client's nonce plus the device's.
    pub server_nonce: String,
    /// The salt, hex.
    pub salt: String,
}

/// One client session.
#[derive(Debug, Clone, Default)]
pub struct Session {
    tokens: VecDeque<String>,
    /// Whether the session has logged in.
    pub logged_in: bool,
    /// A SCRAM login under way.
    pub scram: Option<PendingScram>,
    /// An API call on this session is being answered.
    pub busy: bool,
}

impl Session {
    /// Issues a new token; the oldest one beyond the valid window stops working.
    pub fn issue_token(&mut self) -> String {
        let token = random_string(TOKEN_LEN);
        self.tokens.push_back(token.clone());
        while self.tokens.len() > VALID_TOKENS {
            self.tokens.pop_front();
        }
        token
    }

    /// Whether a POST may carry `token`.
    pub fn accepts(&self, token: &str) -> bool {
        self.tokens.iter().any(|t| t == token)
    }
}

/// All sessions of the device.
#[derive(Debug, Default)]
pub struct Sessions {
    map: HashMap<String, Session>,
    order: VecDeque<String>,
}

impl Sessions {
    /// Opens a session and returns its id.
    pub fn create(&mut self) -> String {
        self.insert(Session::default())
    }

    fn insert(&mut self, session: Session) -> String {
        let id = random_string(SESSION_ID_LEN);
        self.map.insert(id.clone(), session);
        self.order.push_back(id.clone());
        while self.order.len() > MAX_SESSIONS {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
        id
    }

    /// The session with this id.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Session> {
        self.map.get_mut(id)
    }

    /// Replaces a session by a new id with no tokens (what a login does) and returns it.
    pub fn rotate(&mut self, old: &str, logged_in: bool) -> String {
        self.map.remove(old);
        self.order.retain(|id| id != old);
        self.insert(Session {
            logged_in,
            ..Session::default()
        })
    }

    /// Forgets every session, as when they time out or the device reboots.
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }

    /// How many sessions exist.
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_newest_and_previous_token_only() {
        let mut s = Session::default();
        let t1 = s.issue_token();
        let t2 = s.issue_token();
        assert!(s.accepts(&t1) && s.accepts(&t2));
        let t3 = s.issue_token();
        assert!(!s.accepts(&t1) && s.accepts(&t2) && s.accepts(&t3));
        assert_eq!(t3.len(), TOKEN_LEN);
    }

    #[test]
    fn rotation_drops_the_old_session() {
        let mut all = Sessions::default();
        let a = all.create();
        let b = all.rotate(&a, true);
        assert!(all.get_mut(&a).is_none());
        assert!(all.get_mut(&b).is_some_and(|s| s.logged_in));
        assert_eq!(all.len(), 1);
    }
}
