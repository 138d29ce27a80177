//! Phone numbers in E.164, the one form stored, sent to modems and compared.
//!
//! Users type numbers in every national form; `PhoneNumber::parse` accepts them with a
//! default region (configurable per deployment) and keeps only the E.164 form. Parsing
//! and validation use the `phonenumber` crate (libphonenumber metadata), so a refusal says
//! why: no digits, an unknown country code, too short or long, or not a number that the
//! numbering plan of its country allows.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A region (ISO 3166-1 alpha-2, e.g. `FR`) used to read national numbers.
pub use phonenumber::country::Id as Region;

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Nothing was given.
    #[error("the phone number is empty")]
    Empty,
    /// Characters that no phone number has.
    #[error(
        "the phone number {0:?} contains characters other than digits, '+', spaces, dots, dashes and brackets"
    )]
    InvalidCharacters(String),
    /// A national number with no region to read it in.
    #[error(
        "{0:?} has no country code; write it in international form (+…) or configure a default region"
    )]
    NoRegion(String),
    /// The parser could not read it (the reason comes from libphonenumber's rules).
    #[error("{input:?} is not a phone number: {reason}")]
    Unparsable {
        /// What was given.
        input: String,
        /// Why the parser refused it.
        reason: String,
    },
    /// It reads as a number but its country's numbering plan has no such number.
    #[error("{input:?} is not a valid number in its numbering plan (read as {e164})")]
    NotValid {
        /// What was given.
        input: String,
        /// How it was read.
        e164: String,
    },
    /// A region name that is not an ISO 3166-1 alpha-2 code known to libphonenumber.
    #[error("{0:?} is not a known region code (ISO 3166-1 alpha-2, e.g. FR)")]
    UnknownRegion(String),
}

/// A phone number in E.164 form (`+` and up to 15 digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

/// Reads a region code such as `FR` or `cg`.
pub fn parse_region(code: &str) -> Result<Region, PhoneError> {
    code.trim()
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| PhoneError::UnknownRegion(code.to_owned()))
}

impl PhoneNumber {
    /// Reads a number in international form, or in national form of `default_region`.
    pub fn parse(input: &str, default_region: Option<Region>) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let allowed = |c: char| c.is_ascii_digit() || " +-.()/\u{a0}".contains(c);
        if !trimmed.chars().all(allowed) || trimmed.chars().skip(1).any(|c| c == '+') {
            return Err(PhoneError::InvalidCharacters(input.to_owned()));
        }
        // An international number is read without the default region: given one, the
        // parser strips that region's national prefix from the foreign number (it turns
        // Congo's +242 06… into +242 6…). `00` is the international prefix of most
        // numbering plans (ITU-T E.164 recommends it).
        let (region, text) = if trimmed.starts_with('+') {
            (None, trimmed.to_owned())
        } else if let Some(rest) = trimmed.strip_prefix("00") {
            (None, format!("+{rest}"))
        } else if default_region.is_some() {
            (default_region, trimmed.to_owned())
        } else {
            return Err(PhoneError::NoRegion(input.to_owned()));
        };
        let parsed = phonenumber::parse(region, &text).map_err(|e| PhoneError::Unparsable {
            input: input.to_owned(),
            reason: e.to_string(),
        })?;
        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        if !phonenumber::is_valid(&parsed) {
            return Err(PhoneError::NotValid {
                input: input.to_owned(),
                e164,
            });
        }
        Ok(Self(e164))
    }

    /// The number in E.164 form, e.g. `+33612345678`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Parses E.164 (or any international form); national forms need [`PhoneNumber::parse`].
impl FromStr for PhoneNumber {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, PhoneError> {
        Self::parse(s, None)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
