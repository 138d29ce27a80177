//! SMS text analysis: which encoding a text needs, how long it is in that encoding, and
//! how many segments it takes on the air.
//!
//! Both ends need the same answer: the API counts segments for rate limits and refuses
//! text the modem cannot send, the agent tells the modem which text mode to use. The
//! rules are those of 3GPP TS 23.038 (GSM 03.38 default alphabet and its extension table)
//! and TS 23.040 (concatenated SMS with a 6-byte user data header). The overall limits are
//! those of the HiLink WebUI (`sms.js`: 612 GSM-7 / 268 UCS-2), see the protocol notes.

use std::fmt;

/// Septets in a single GSM-7 SMS.
pub const GSM7_SINGLE: usize = 160;
/// Septets per segment of a concatenated GSM-7 SMS (the UDH takes 7).
pub const GSM7_PART: usize = 153;
/// UTF-16 units in a single UCS-2 SMS.
pub const UCS2_SINGLE: usize = 70;
/// UTF-16 units per segment of a concatenated UCS-2 SMS.
pub const UCS2_PART: usize = 67;
/// Longest GSM-7 text a HiLink modem sends, in septets (4 × 153).
pub const HILINK_MAX_GSM7: usize = 612;
/// Longest UCS-2 text a HiLink modem sends, in UTF-16 units (4 × 67).
pub const HILINK_MAX_UCS2: usize = 268;

/// The GSM 03.38 default alphabet, in code order (0x1B, the escape to the extension table,
/// is not a character of its own and stands here as a space that is never looked up).
const GSM7_BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1b}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// Characters of the GSM 03.38 extension table: each is sent as ESC + code, two septets.
const GSM7_EXTENSION: [char; 10] = ['\u{c}', '^', '{', '}', '\\', '[', '~', ']', '|', '€'];

/// How a character is carried in GSM-7, if it can be.
fn gsm7_septets(c: char) -> Option<usize> {
    if c == '\u{1b}' {
        None
    } else if GSM7_BASIC.contains(&c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(&c) {
        Some(2)
    } else {
        None
    }
}

/// Whether a character belongs to the GSM 03.38 alphabet (basic or extension table).
pub fn is_gsm7(c: char) -> bool {
    gsm7_septets(c).is_some()
}

/// The data coding a text is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// The GSM 03.38 7-bit default alphabet: 160 septets per SMS.
    Gsm7,
    /// UCS-2 (in practice UTF-16): 70 units per SMS; used as soon as one character is
    /// outside the GSM alphabet.
    Ucs2,
}

impl Encoding {
    /// The stable lower-case name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
        }
    }

    /// Units one SMS holds when the text fits in one.
    pub fn single_capacity(self) -> usize {
        match self {
            Encoding::Gsm7 => GSM7_SINGLE,
            Encoding::Ucs2 => UCS2_SINGLE,
        }
    }

    /// Units each segment of a concatenated SMS holds.
    pub fn part_capacity(self) -> usize {
        match self {
            Encoding::Gsm7 => GSM7_PART,
            Encoding::Ucs2 => UCS2_PART,
        }
    }

    /// Longest text a HiLink modem sends, in units of this encoding.
    pub fn hilink_max(self) -> usize {
        match self {
            Encoding::Gsm7 => HILINK_MAX_GSM7,
            Encoding::Ucs2 => HILINK_MAX_UCS2,
        }
    }

    /// The unit lengths are counted in, for messages people read.
    pub fn unit_name(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "septets",
            Encoding::Ucs2 => "UTF-16 units",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a text costs on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextInfo {
    /// The encoding the text needs.
    pub encoding: Encoding,
    /// Length in units of that encoding: septets (extension characters count 2) or
    /// UTF-16 units (characters outside the BMP count 2).
    pub units: usize,
    /// Unicode scalar values in the text.
    pub chars: usize,
    /// SMS segments the text is split into (0 for an empty text).
    pub segments: usize,
}

/// The width of each character in the units of `encoding`, in order.
fn unit_widths(text: &str, encoding: Encoding) -> impl Iterator<Item = usize> + '_ {
    text.chars().map(move |c| match encoding {
        Encoding::Gsm7 => gsm7_septets(c).unwrap_or(1),
        Encoding::Ucs2 => c.len_utf16(),
    })
}

/// Analyses a text: GSM-7 when every character is in the GSM alphabet, else UCS-2.
///
/// A segment never splits a character: an extension character (ESC + code) or a surrogate
/// pair that does not fit at the end of a segment moves whole to the next one, so a long
/// text can need one segment more than its length divided by the part size.
pub fn analyze(text: &str) -> TextInfo {
    let encoding = if text.chars().all(is_gsm7) {
        Encoding::Gsm7
    } else {
        Encoding::Ucs2
    };
    let units: usize = unit_widths(text, encoding).sum();
    let segments = if units == 0 {
        0
    } else if units <= encoding.single_capacity() {
        1
    } else {
        let part = encoding.part_capacity();
        let (mut segments, mut used) = (1, 0);
        for width in unit_widths(text, encoding) {
            if used + width > part {
                segments += 1;
                used = 0;
            }
            used += width;
        }
        segments
    };
    TextInfo {
        encoding,
        units,
        chars: text.chars().count(),
        segments,
    }
}

/// Why a text cannot be sent as an SMS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The text is empty (or only white space).
    #[error("the text is empty")]
    Empty,
    /// The text is longer than a HiLink modem sends.
    #[error(
        "the text is {units} {unit} long in {encoding}, more than the {max} a modem can send ({segments} segments)",
        unit = .encoding.unit_name()
    )]
    TooLong {
        /// The encoding the text needs.
        encoding: Encoding,
        /// Its length in units of that encoding.
        units: usize,
        /// The limit in the same units.
        max: usize,
        /// Segments it would take.
        segments: usize,
    },
    /// The text holds a character the modem's XML API cannot carry.
    #[error(
        "the text holds U+{code:04X} at character {position}, a control character a modem cannot send (XML 1.0 allows only tab, line feed and carriage return below U+0020, and not U+FFFE or U+FFFF)",
        code = u32::from(*.character)
    )]
    Unsendable {
        /// The character.
        character: char,
        /// Its position, counted in characters from 0.
        position: usize,
    },
}

/// Whether the modem's XML API (XML 1.0, the `Char` production of its §2.2) can carry `c`.
pub fn is_sendable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || !(c < ' ' || c == '\u{fffe}' || c == '\u{ffff}')
}

/// A text that can be sent as an SMS: not empty, only characters the modem's API can
/// carry, and within the modem's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText {
    text: String,
    info: TextInfo,
}

impl MessageText {
    /// Checks a text and keeps what it costs.
    pub fn parse(text: impl Into<String>) -> Result<Self, TextError> {
        let text = text.into();
        if text.trim().is_empty() {
            return Err(TextError::Empty);
        }
        if let Some((position, character)) =
            text.chars().enumerate().find(|(_, c)| !is_sendable(*c))
        {
            return Err(TextError::Unsendable {
                character,
                position,
            });
        }
        let info = analyze(&text);
        let max = info.encoding.hilink_max();
        if info.units > max {
            return Err(TextError::TooLong {
                encoding: info.encoding,
                units: info.units,
                max,
                segments: info.segments,
            });
        }
        Ok(Self { text, info })
    }

    /// The text itself.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What the text costs on the air.
    pub fn info(&self) -> TextInfo {
        self.info
    }

    /// Gives the text back.
    pub fn into_string(self) -> String {
        self.text
    }
}

/// On the wire a text is a plain string, checked again when read.
impl serde::Serialize for MessageText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for MessageText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        MessageText::parse(<String as serde::Deserialize>::deserialize(d)?)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_table_has_128_distinct_entries() {
        let mut seen = std::collections::HashSet::new();
        for c in GSM7_BASIC {
            assert!(seen.insert(c), "{c:?} twice");
        }
        for c in GSM7_EXTENSION {
            assert!(!seen.contains(&c), "{c:?} in both tables");
        }
    }
}
