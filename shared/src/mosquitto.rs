//! Mosquitto password-file lines (feature `mosquitto`), so that a site's credential can be
//! given to a Mosquitto broker without its `mosquitto_passwd` tool.
//!
//! Mosquitto 2 stores `user:$7$iterations$salt$hash`: PBKDF2-HMAC-SHA512 over the password
//! with a 12-byte random salt, both base64 (standard alphabet, padded), 64 bytes of hash.
//! The password of a site is its broker credential (the JWT the agent also presents to
//! smsgw-broker), so the agent's configuration is the same for both brokers. 101 rounds is
//! Mosquitto's own default: the password is a signed token of far more entropy than any
//! dictionary, so more rounds would only slow every CONNECT.

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use rand::RngExt;
use sha2::Sha512;

/// PBKDF2 rounds, as `mosquitto_passwd` uses by default.
pub const ITERATIONS: u32 = 101;

const SALT_LEN: usize = 12;
const HASH_LEN: usize = 64;

/// Why no line was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswdError {
    /// Mosquitto reads `user:hash`, one per line: the user name cannot hold `:` or a line
    /// break, nor be empty.
    #[error("a Mosquitto user name must be non-empty, without ':' or line breaks")]
    BadUser,
    /// MQTT carries at most 65535 bytes of password.
    #[error("the password is empty or longer than 65535 bytes")]
    BadPassword,
}

/// The password-file line of `user` with `password`, with a fresh random salt.
pub fn password_line(user: &str, password: &str) -> Result<String, PasswdError> {
    let salt: [u8; SALT_LEN] = rand::rng().random();
    password_line_with_salt(user, password, &salt)
}

/// [`password_line`] with a given salt (tests, reproducible output).
pub fn password_line_with_salt(
    user: &str,
    password: &str,
    salt: &[u8],
) -> Result<String, PasswdError> {
    if user.is_empty() || user.contains([':', '\n', '\r']) {
        return Err(PasswdError::BadUser);
    }
    if password.is_empty() || password.len() > usize::from(u16::MAX) {
        return Err(PasswdError::BadPassword);
    }
    let mut hash = [0u8; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), salt, ITERATIONS, &mut hash);
    Ok(format!(
        "{user}:$7${ITERATIONS}${}${}",
        BASE64.encode(salt),
        BASE64.encode(hash)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by `mosquitto_passwd -c -b pw lyon secretpw` (Mosquitto 2.0.11).
    const FROM_MOSQUITTO_PASSWD: &str = "lyon:$7$101$wd/QhR0gqe51+B/T$BQyQpBpzk0ozr4t1ldCZz0L+/GFkc8kHogDlJ1GwraazOL2M3kOhRP5PvCFs3fabG1k+ZaAVCu0hffylGqwcHQ==";

    #[test]
    fn same_line_as_mosquitto_passwd_for_the_same_salt() {
        let salt = BASE64.decode("wd/QhR0gqe51+B/T").expect("salt");
        assert_eq!(
            password_line_with_salt("lyon", "secretpw", &salt).expect("line"),
            FROM_MOSQUITTO_PASSWD
        );
    }

    #[test]
    fn every_line_has_its_own_salt() {
        let a = password_line("lyon", "secretpw").expect("line");
        let b = password_line("lyon", "secretpw").expect("line");
        assert_ne!(a, b);
        assert!(a.starts_with("lyon:$7$101$"), "{a}");
        assert_eq!(a.split('$').count(), 5, "{a}");
    }

    #[test]
    fn bad_input_is_refused() {
        assert_eq!(password_line("", "x"), Err(PasswdError::BadUser));
        assert_eq!(password_line("a:b", "x"), Err(PasswdError::BadUser));
        assert_eq!(password_line("a\nb", "x"), Err(PasswdError::BadUser));
        assert_eq!(password_line("lyon", ""), Err(PasswdError::BadPassword));
        let long = "x".repeat(70_000);
        assert_eq!(password_line("lyon", &long), Err(PasswdError::BadPassword));
    }
}
