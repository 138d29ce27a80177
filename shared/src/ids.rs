//! Identifiers that travel on the wire: sites, modems, messages and events.
//!
//! Each is a newtype that can only hold a valid value, so a topic built from a `SiteId` is
//! always a valid topic and a `MessageId` is always a UUID v7 (time-ordered, which keeps
//! database indexes and cursors cheap).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A site id must be 1–32 characters of `a-z` and `0-9` (rumqttd tenants need
    /// alphanumeric ids, and the id is a topic level).
    #[error("site id {0:?} must be 1 to 32 characters of a-z and 0-9")]
    Site(String),
    /// A modem id must be 1–32 characters of `a-z`, `0-9`, `-` and `_`, starting with a
    /// letter or digit.
    #[error(
        "modem id {0:?} must be 1 to 32 characters of a-z, 0-9, '-' and '_', starting with a letter or digit"
    )]
    Modem(String),
    /// Message and event ids are UUIDs of version 7.
    #[error("{0:?} is not a UUID v7")]
    Uuid(String),
}

/// Implements the string plumbing shared by the string identifiers.
macro_rules! string_id {
    ($name:ident) => {
        impl $name {
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                value.parse()
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A branch site: the `{site}` level of every topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteId(String);

impl FromStr for SiteId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let ok = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Site(s.to_owned()))
        }
    }
}
string_id!(SiteId);

/// A modem at a site, named in the agent's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModemId(String);

impl FromStr for ModemId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let ok = (1..=32).contains(&s.len())
            && s.bytes().enumerate().all(|(i, b)| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && (b == b'-' || b == b'_'))
            });
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::Modem(s.to_owned()))
        }
    }
}
string_id!(ModemId);

/// Implements a UUID v7 identifier.
macro_rules! uuid_v7_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id for now (UUID v7: ordered by creation time).
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps a UUID, refusing any version but 7.
            pub fn from_uuid(uuid: Uuid) -> Result<Self, IdError> {
                if uuid.get_version_num() == 7 {
                    Ok(Self(uuid))
                } else {
                    Err(IdError::Uuid(uuid.to_string()))
                }
            }

            /// The UUID inside.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                let uuid = Uuid::parse_str(s).map_err(|_| IdError::Uuid(s.to_owned()))?;
                Self::from_uuid(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl From<$name> for Uuid {
            fn from(value: $name) -> Uuid {
                value.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.0.serialize(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_v7_id!(
    /// An SMS, outbound or inbound; chosen by the API and kept by the agent to deduplicate.
    MessageId
);
uuid_v7_id!(
    /// One event from an agent; the API acknowledges events by this id and stores each once.
    EventId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_ids() {
        for ok in ["a", "paris01", "0", &"x".repeat(32)] {
            assert!(ok.parse::<SiteId>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Paris",
            "site-1",
            "site_1",
            "é",
            "a/b",
            "+",
            "#",
            &"x".repeat(33),
        ] {
            assert_eq!(bad.parse::<SiteId>(), Err(IdError::Site(bad.to_owned())));
        }
    }

    #[test]
    fn modem_ids() {
        for ok in ["m1", "usb-0", "e3372_a", &"m".repeat(32)] {
            assert!(ok.parse::<ModemId>().is_ok(), "{ok}");
        }
        for bad in ["", "-m", "_m", "M1", "a b", "a/b", &"m".repeat(33)] {
            assert!(bad.parse::<ModemId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn uuid_ids_are_v7() {
        let id = MessageId::new();
        assert_eq!(id.to_string().parse::<MessageId>(), Ok(id));
        let v4 = "0b6a4e2e-7b8f-4d3c-9a2e-3f1f8a6f5d21";
        assert_eq!(v4.parse::<EventId>(), Err(IdError::Uuid(v4.into())));
        assert!("not-a-uuid".parse::<EventId>().is_err());
        assert!(EventId::new() < EventId::new(), "v7 ids are time-ordered");
    }
}
