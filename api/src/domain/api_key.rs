//! API keys: `sk_live_` and 32 random base62 characters (~190 bits).
//!
//! With that much entropy a slow password hash buys nothing, so a key is stored as
//! HMAC-SHA256(server pepper, key): a check costs nanoseconds and a stolen table is useless
//! without the pepper. The first characters stay visible as the key's prefix, so that
//! operators can tell keys apart and revoke one.

use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt;
use sha2::Sha256;

use crate::secrets::{self, WeakSecret};

/// What every key starts with.
pub const KEY_PREFIX: &str = "sk_live_";
/// Random characters after [`KEY_PREFIX`].
pub const SECRET_CHARS: usize = 32;
/// Random characters that stay visible in the stored prefix.
pub const VISIBLE_CHARS: usize = 8;
/// The setting that holds the pepper.
pub const PEPPER_VARIABLE: &str = "SMSGW_KEY_PEPPER";

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A presented string that is not shaped like a key at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an API key is `sk_live_` followed by 32 letters and digits")]
pub struct KeyFormatError;

/// A well-formed API key (which may or may not exist).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// A new random key.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let mut key = String::with_capacity(KEY_PREFIX.len() + SECRET_CHARS);
        key.push_str(KEY_PREFIX);
        for _ in 0..SECRET_CHARS {
            key.push(char::from(BASE62[rng.random_range(0..BASE62.len())]));
        }
        Self(key)
    }

    /// Reads a presented key, refusing anything not shaped like one.
    pub fn parse(input: &str) -> Result<Self, KeyFormatError> {
        let secret = input.strip_prefix(KEY_PREFIX).ok_or(KeyFormatError)?;
        if secret.len() == SECRET_CHARS && secret.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(input.to_owned()))
        } else {
            Err(KeyFormatError)
        }
    }

    /// The visible part that identifies the key, e.g. `sk_live_AbCd1234`.
    pub fn prefix(&self) -> &str {
        &self.0[..KEY_PREFIX.len() + VISIBLE_CHARS]
    }

    /// The whole key, to show once to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeySecret({}…)", self.prefix())
    }
}

/// The server secret keys are hashed with.
#[derive(Clone)]
pub struct KeyPepper(Vec<u8>);

impl KeyPepper {
    /// Takes the pepper from the configuration; a weak one is refused
    /// ([`secrets::check`]).
    pub fn new(pepper: &str) -> Result<Self, WeakSecret> {
        secrets::check(PEPPER_VARIABLE, pepper)?;
        Ok(Self(pepper.as_bytes().to_vec()))
    }

    /// HMAC-SHA256(pepper, key): what the database stores and looks keys up by.
    pub fn hash(&self, key: &ApiKeySecret) -> Vec<u8> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(key.expose().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

impl std::fmt::Debug for KeyPepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyPepper(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_differ() {
        let a = ApiKeySecret::generate();
        let b = ApiKeySecret::generate();
        assert_ne!(a, b);
        assert_eq!(ApiKeySecret::parse(a.expose()), Ok(a.clone()));
        assert_eq!(a.expose().len(), KEY_PREFIX.len() + SECRET_CHARS);
        assert_eq!(a.prefix().len(), KEY_PREFIX.len() + VISIBLE_CHARS);
        assert!(!format!("{a:?}").contains(&a.expose()[20..]));
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in [
            "",
            "sk_live_",
            "sk_test_0123456789abcdef0123456789abcdef",
            "sk_live_0123456789abcdef0123456789abcde",
            "sk_live_0123456789abcdef0123456789abcdef0",
            "sk_live_0123456789abcdef0123456789abcde!",
            "sk_live_0123456789abcdef0123456789abcdé",
        ] {
            assert_eq!(ApiKeySecret::parse(bad), Err(KeyFormatError), "{bad}");
        }
    }

    #[test]
    fn hash_depends_on_pepper_and_key() {
        let key = ApiKeySecret::generate();
        let p1 = KeyPepper::new("0123456789abcdef0123456789abcdef").expect("pepper");
        let p2 = KeyPepper::new("0123456789abcdef0123456789abcdeF").expect("pepper");
        assert_eq!(p1.hash(&key).len(), 32);
        assert_eq!(p1.hash(&key), p1.hash(&key));
        assert_ne!(p1.hash(&key), p2.hash(&key));
        assert_ne!(p1.hash(&key), p1.hash(&ApiKeySecret::generate()));
        assert!(KeyPepper::new("short").is_err());
    }
}
