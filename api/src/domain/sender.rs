//! The sender of an inbound SMS, as stored. The modem has already deleted the SMS when
//! its event arrives, so whatever the network put in the sender field (a number, a name
//! such as `BANK`, nothing at all, or a few hundred characters of garbage) it is stored:
//! normalised where possible into `phone`, and kept exactly as it came when that differs.

use smsgw_shared::phone::PhoneNumber;

/// Longest `phone` stored (the database refuses more).
pub const MAX_PHONE_CHARS: usize = 64;

/// A sender ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// E.164 for a number, else the trimmed text cut to [`MAX_PHONE_CHARS`]; may be empty.
    pub phone: String,
    /// The sender as it came, when `phone` is not exactly it.
    pub raw: Option<String>,
}

impl Sender {
    /// Normalises the sender field of an inbound SMS.
    pub fn normalize(raw: &str) -> Self {
        let phone = match PhoneNumber::parse(raw, None) {
            Ok(number) => number.as_str().to_owned(),
            Err(_) => raw.trim().chars().take(MAX_PHONE_CHARS).collect(),
        };
        let raw = (phone != raw).then(|| raw.to_owned());
        Self { phone, raw }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_e164_names_stay_and_the_rest_is_kept_raw() {
        assert_eq!(
            Sender::normalize("+33612345678"),
            Sender {
                phone: "+33612345678".into(),
                raw: None
            }
        );
        assert_eq!(
            Sender::normalize("+33 6 12 34 56 78"),
            Sender {
                phone: "+33612345678".into(),
                raw: Some("+33 6 12 34 56 78".into())
            }
        );
        assert_eq!(Sender::normalize("BANK").raw, None);
        assert_eq!(
            Sender::normalize(""),
            Sender {
                phone: String::new(),
                raw: None
            }
        );
        assert_eq!(Sender::normalize("  ").phone, "");
        let long = "é".repeat(300);
        let sender = Sender::normalize(&long);
        assert_eq!(sender.phone.chars().count(), MAX_PHONE_CHARS);
        assert_eq!(sender.raw.as_deref(), Some(long.as_str()));
    }
}
