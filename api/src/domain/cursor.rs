//! The opaque cursor of message listings: the keyset (created_at, id) of the last row a
//! page showed, so the next page starts right after it however many rows arrive
//! meanwhile. Clients must treat it as opaque; it is base64url of `v1:<µs>:<uuid>`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use time::OffsetDateTime;
use uuid::Uuid;

/// A cursor that is not one we issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not one this API issued")]
pub struct CursorError;

/// Position after which the next page starts (listings are newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// `created_at` of the last row shown.
    pub created_at: OffsetDateTime,
    /// `id` of the last row shown.
    pub id: Uuid,
}

impl Cursor {
    /// The opaque text form.
    pub fn encode(&self) -> String {
        let micros = self.created_at.unix_timestamp_nanos() / 1000;
        URL_SAFE_NO_PAD.encode(format!("v1:{micros}:{}", self.id))
    }

    /// Reads a cursor from a client.
    pub fn decode(text: &str) -> Result<Self, CursorError> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| CursorError)?;
        let mut parts = text.splitn(3, ':');
        if parts.next() != Some("v1") {
            return Err(CursorError);
        }
        let micros: i128 = parts
            .next()
            .and_then(|m| m.parse().ok())
            .ok_or(CursorError)?;
        let id = parts
            .next()
            .and_then(|i| Uuid::parse_str(i).ok())
            .ok_or(CursorError)?;
        let created_at =
            OffsetDateTime::from_unix_timestamp_nanos(micros * 1000).map_err(|_| CursorError)?;
        Ok(Self { created_at, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_microseconds() {
        let at =
            OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_456_000).expect("time");
        let cursor = Cursor {
            created_at: at,
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            "",
            "!!!",
            "djE6",
            "djI6MTox",
            &URL_SAFE_NO_PAD.encode("v1:12:not-a-uuid"),
        ] {
            assert_eq!(Cursor::decode(bad), Err(CursorError), "{bad}");
        }
    }
}
