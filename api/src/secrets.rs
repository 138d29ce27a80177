//! Secrets that must be secrets. The key pepper and the session signing key are the whole
//! protection of what they guard: a short one is guessed offline from one leaked API key
//! hash or one session token, and a placeholder copied from a documentation page is known
//! to everyone. [`check`] refuses both before the API serves anything, naming the variable
//! and saying how to make a good value; every secret setting goes through it.

/// The shortest secret accepted, in bytes (256 bits, what `openssl rand -hex 32` gives
/// as 64 characters).
pub const MIN_SECRET_BYTES: usize = 32;

/// A random secret of [`MIN_SECRET_BYTES`] bytes or more uses at least this many distinct
/// byte values: 32 random hex characters show 15 of the 16 on average, and fewer than 10
/// happens about once in 10^9 draws. A value with fewer is a pattern, not randomness.
const MIN_DISTINCT_BYTES: usize = 10;

/// Parts of the placeholders that documentation and generated configuration files show
/// (the one `smsgw-api configfile` prints among them); a secret containing one was typed
/// in, not generated.
const PLACEHOLDER_MARKS: &[&str] = &[
    "change-me",
    "change_me",
    "changeme",
    "replace-me",
    "replace_me",
    "replaceme",
    "placeholder",
    "example",
    "your-secret",
    "your_secret",
    "secret-here",
    "openssl-rand",
];

/// How to make a good secret, for every message.
pub const HOW_TO_MAKE_ONE: &str = "make one with `openssl rand -hex 32`";

/// What is wrong with a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Weakness {
    /// Shorter than [`MIN_SECRET_BYTES`].
    #[error("is {0} bytes long; it must be at least {MIN_SECRET_BYTES}")]
    TooShort(usize),
    /// A documentation or configfile placeholder.
    #[error("is a placeholder, not a secret")]
    Placeholder,
    /// Too few distinct characters to be random.
    #[error("repeats too few characters to be random")]
    NotRandom,
}

/// A secret setting that must not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} {weakness}: {HOW_TO_MAKE_ONE}")]
pub struct WeakSecret {
    /// The environment variable (also the flag's name) that holds it.
    pub variable: &'static str,
    /// What is wrong with it.
    pub weakness: Weakness,
}

/// Refuses a value of `variable` that is too short, a known placeholder or a pattern.
pub fn check(variable: &'static str, value: &str) -> Result<(), WeakSecret> {
    let weak = |weakness| Err(WeakSecret { variable, weakness });
    let lowered = value.to_ascii_lowercase();
    if PLACEHOLDER_MARKS.iter().any(|mark| lowered.contains(mark)) {
        return weak(Weakness::Placeholder);
    }
    if value.len() < MIN_SECRET_BYTES {
        return weak(Weakness::TooShort(value.len()));
    }
    let mut seen = [false; 256];
    for b in value.bytes() {
        seen[usize::from(b)] = true;
    }
    if seen.iter().filter(|s| **s).count() < MIN_DISTINCT_BYTES {
        return weak(Weakness::NotRandom);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_pass() {
        for good in [
            "3f9a0c1b7e2d4a6f8b0c2e4d6a8f0b1c3e5d7a9f1b3c5e7d9a0b2c4e6d8f0a1b",
            "kR7vQ2mX9pL4sT8wZ1nB6cF3hJ5dG0yA+e/u=",
            "correct horse battery staple, and a bit more",
        ] {
            assert_eq!(check("SMSGW_JWT_SECRET", good), Ok(()), "{good}");
        }
    }

    #[test]
    fn short_placeholder_and_patterned_secrets_are_refused_by_name() {
        let refused = |value: &str| check("SMSGW_KEY_PEPPER", value).expect_err(value).weakness;
        assert_eq!(refused("test-jwt-secret"), Weakness::TooShort(15));
        assert_eq!(refused(""), Weakness::TooShort(0));
        assert_eq!(
            refused("change-me-to-the-output-of-openssl-rand-hex-32"),
            Weakness::Placeholder
        );
        assert_eq!(
            refused("CHANGEME-CHANGEME-CHANGEME-CHANGEME"),
            Weakness::Placeholder
        );
        assert_eq!(refused(&"ab".repeat(32)), Weakness::NotRandom);
        assert_eq!(refused(&"0".repeat(64)), Weakness::NotRandom);
        let message = check("SMSGW_KEY_PEPPER", "short")
            .expect_err("short")
            .to_string();
        assert!(
            message.starts_with("SMSGW_KEY_PEPPER is 5 bytes long"),
            "{message}"
        );
        assert!(message.contains("openssl rand -hex 32"), "{message}");
    }
}
