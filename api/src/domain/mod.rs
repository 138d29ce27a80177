//! Values that can only hold what is valid ("parse, don't validate"): an API key, a
//! message to send, a listing cursor. HTTP handlers and commands turn raw input into
//! these once, and everything past that point trusts them.

pub mod api_key;
pub mod cursor;
pub mod health;
pub mod key_scope;
pub mod listing;
pub mod lockout;
pub mod new_message;
pub mod sender;

/// One refused input value: a stable machine-readable `code`, the offending `field` and a
/// sentence for people. The HTTP layer turns it into a problem answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {detail}")]
pub struct FieldError {
    /// Stable code, e.g. `invalid_phone`.
    pub code: &'static str,
    /// The field as the client named it.
    pub field: String,
    /// What is wrong, for people.
    pub detail: String,
}

impl FieldError {
    /// `site` names a site that is not registered.
    pub fn unknown_site(site: &str) -> Self {
        Self::new(
            "unknown_site",
            "site",
            format!("site {site:?} is not registered"),
        )
    }

    /// A refusal of `field` with `code`.
    pub fn new(code: &'static str, field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            code,
            field: field.into(),
            detail: detail.into(),
        }
    }
}
