//! A message to send, as a client asks for it: the seed-compatible body (`phone` +
//! `content`, also `to` + `text`) and the optional routing and delivery settings, checked
//! field by field into a [`NewMessage`] that holds only valid values.

use serde::Deserialize;
use serde_json::Value;
use smsgw_shared::{
    ids::{ModemId, SiteId},
    phone::{PhoneNumber, Region},
    sms::{MessageText, TextError},
};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::FieldError;

/// Lowest and highest `priority`.
pub const PRIORITY_RANGE: std::ops::RangeInclusive<i64> = -128..=127;
/// Largest `metadata` object, serialized, in bytes.
pub const MAX_METADATA_BYTES: usize = 4096;

/// The body of `POST /api/v1/messages` as it arrives: every field optional and loosely
/// typed, so that each problem is reported with its own code and field.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"phone": "+33612345678", "content": "Your code is 1234"}))]
pub struct SendMessageRequest {
    /// Recipient (seed name).
    pub phone: Option<String>,
    /// Recipient (alternative name).
    pub to: Option<String>,
    /// Text (seed name).
    pub content: Option<String>,
    /// Text (alternative name).
    pub text: Option<String>,
    /// Site to send from.
    pub site: Option<String>,
    /// Modem at that site.
    pub modem: Option<String>,
    /// Give up sending after this instant (RFC 3339).
    pub expires_at: Option<String>,
    /// Higher goes first; -128 to 127, default 0.
    pub priority: Option<i64>,
    /// Ask the network for a delivery report.
    pub delivery_report: Option<bool>,
    /// Client data kept with the message (a JSON object).
    pub metadata: Option<Value>,
}

/// A message that can be stored and sent.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Recipient in E.164.
    pub phone: PhoneNumber,
    /// Text with its encoding and segment count.
    pub text: MessageText,
    /// Explicit site, if the client named one.
    pub site: Option<SiteId>,
    /// Explicit modem, if the client named one.
    pub modem: Option<ModemId>,
    /// Expiry, if any.
    pub expires_at: Option<OffsetDateTime>,
    /// Priority, -128 to 127.
    pub priority: i16,
    /// Whether a delivery report is requested.
    pub delivery_report: bool,
    /// Client data.
    pub metadata: Option<Value>,
}

/// Picks one of two names of the same field; both given with different values is an error.
fn one_of(
    primary: Option<String>,
    primary_name: &str,
    alias: Option<String>,
    alias_name: &str,
) -> Result<Option<(String, String)>, FieldError> {
    match (primary, alias) {
        (Some(a), Some(b)) if a != b => Err(FieldError::new(
            "conflicting_fields",
            alias_name,
            format!(
                "`{primary_name}` and `{alias_name}` name the same field with different values; send one"
            ),
        )),
        (Some(a), _) => Ok(Some((primary_name.to_owned(), a))),
        (None, Some(b)) => Ok(Some((alias_name.to_owned(), b))),
        (None, None) => Ok(None),
    }
}

/// Where a JSON object holds U+0000 in a key or a string (PostgreSQL's `jsonb` refuses it),
/// as a JSON pointer (`/a/0/b`).
fn nul_in(map: &serde_json::Map<String, Value>) -> Option<String> {
    fn in_value(value: &Value, path: &mut String) -> bool {
        match value {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .any(|(i, item)| at(path, &i.to_string(), |path| in_value(item, path))),
            Value::Object(map) => in_map(map, path),
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }
    fn in_map(map: &serde_json::Map<String, Value>, path: &mut String) -> bool {
        map.iter().any(|(key, item)| {
            let segment = key
                .replace('~', "~0")
                .replace('/', "~1")
                .replace('\0', "\\u0000");
            at(path, &segment, |path| {
                key.contains('\0') || in_value(item, path)
            })
        })
    }
    /// Runs `check` with `segment` appended to `path`, which keeps it only when found.
    fn at(path: &mut String, segment: &str, check: impl FnOnce(&mut String) -> bool) -> bool {
        let len = path.len();
        path.push('/');
        path.push_str(segment);
        let found = check(path);
        if !found {
            path.truncate(len);
        }
        found
    }
    let mut path = String::new();
    in_map(map, &mut path).then_some(path)
}

impl NewMessage {
    /// Checks a request at time `now`, reading national numbers in `region`.
    pub fn parse(
        request: SendMessageRequest,
        region: Option<Region>,
        now: OffsetDateTime,
    ) -> Result<Self, FieldError> {
        let (phone_field, phone) =
            one_of(request.phone, "phone", request.to, "to")?.ok_or_else(|| {
                FieldError::new("missing_field", "phone", "`phone` (or `to`) is required")
            })?;
        let phone = PhoneNumber::parse(&phone, region)
            .map_err(|e| FieldError::new("invalid_phone", phone_field, e.to_string()))?;

        let (text_field, text) = one_of(request.content, "content", request.text, "text")?
            .ok_or_else(|| {
                FieldError::new(
                    "missing_field",
                    "content",
                    "`content` (or `text`) is required",
                )
            })?;
        let text = MessageText::parse(text).map_err(|e| {
            let code = match e {
                TextError::Empty => "empty_text",
                TextError::TooLong { .. } => "text_too_long",
                TextError::Unsendable { .. } => "invalid_text",
            };
            FieldError::new(code, text_field, e.to_string())
        })?;

        let site = request
            .site
            .map(|s| s.parse::<SiteId>())
            .transpose()
            .map_err(|e| FieldError::new("invalid_site", "site", e.to_string()))?;
        let modem = request
            .modem
            .map(|s| s.parse::<ModemId>())
            .transpose()
            .map_err(|e| FieldError::new("invalid_modem", "modem", e.to_string()))?;

        let expires_at = request
            .expires_at
            .map(|s| {
                OffsetDateTime::parse(&s, &Rfc3339).map_err(|e| {
                    FieldError::new(
                        "invalid_expires_at",
                        "expires_at",
                        format!("{s:?} is not an RFC 3339 date-time: {e}"),
                    )
                })
            })
            .transpose()?;
        if let Some(at) = expires_at
            && at <= now
        {
            return Err(FieldError::new(
                "expires_at_in_past",
                "expires_at",
                "`expires_at` is already past",
            ));
        }

        let priority = request.priority.unwrap_or(0);
        if !PRIORITY_RANGE.contains(&priority) {
            return Err(FieldError::new(
                "invalid_priority",
                "priority",
                format!(
                    "`priority` must be between {} and {}",
                    PRIORITY_RANGE.start(),
                    PRIORITY_RANGE.end()
                ),
            ));
        }

        let metadata = match request.metadata {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => {
                let size = serde_json::to_vec(&map)
                    .map(|v| v.len())
                    .unwrap_or(usize::MAX);
                if let Some(path) = nul_in(&map) {
                    return Err(FieldError::new(
                        "invalid_metadata",
                        "metadata",
                        format!("`metadata` holds U+0000 at {path}, which cannot be stored"),
                    ));
                }
                if size > MAX_METADATA_BYTES {
                    return Err(FieldError::new(
                        "invalid_metadata",
                        "metadata",
                        format!("`metadata` is {size} bytes, more than {MAX_METADATA_BYTES}"),
                    ));
                }
                Some(Value::Object(map))
            }
            Some(_) => {
                return Err(FieldError::new(
                    "invalid_metadata",
                    "metadata",
                    "`metadata` must be a JSON object",
                ));
            }
        };

        Ok(Self {
            phone,
            text,
            site,
            modem,
            expires_at,
            priority: i16::try_from(priority).unwrap_or_default(),
            delivery_report: request.delivery_report.unwrap_or(false),
            metadata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(phone: &str, content: &str) -> SendMessageRequest {
        SendMessageRequest {
            phone: Some(phone.into()),
            content: Some(content.into()),
            ..Default::default()
        }
    }

    fn code(r: SendMessageRequest) -> (&'static str, String) {
        let e = NewMessage::parse(r, None, OffsetDateTime::now_utc()).expect_err("refused");
        (e.code, e.field)
    }

    #[test]
    fn seed_and_alias_names_are_accepted() {
        let now = OffsetDateTime::now_utc();
        let m = NewMessage::parse(request("+33 6 12 34 56 78", "hello"), None, now).expect("ok");
        assert_eq!(m.phone.as_str(), "+33612345678");
        let alias = SendMessageRequest {
            to: Some("+33612345678".into()),
            text: Some("hello".into()),
            ..Default::default()
        };
        let m = NewMessage::parse(alias, None, now).expect("ok");
        assert_eq!(m.text.as_str(), "hello");
        assert_eq!(m.priority, 0);
    }

    #[test]
    fn each_bad_field_has_its_code() {
        assert_eq!(
            code(SendMessageRequest::default()),
            ("missing_field", "phone".into())
        );
        assert_eq!(
            code(request("+33612345678", " ")),
            ("empty_text", "content".into())
        );
        assert_eq!(code(request("12", "x")), ("invalid_phone", "phone".into()));
        assert_eq!(
            code(request("+33612345678", &"x".repeat(700))),
            ("text_too_long", "content".into())
        );
        let mut r = request("+33612345678", "x");
        r.to = Some("+33612345679".into());
        assert_eq!(code(r), ("conflicting_fields", "to".into()));
        let mut r = request("+33612345678", "x");
        r.site = Some("Bad Site".into());
        assert_eq!(code(r), ("invalid_site", "site".into()));
        let mut r = request("+33612345678", "x");
        r.expires_at = Some("2000-01-01T00:00:00Z".into());
        assert_eq!(code(r), ("expires_at_in_past", "expires_at".into()));
        let mut r = request("+33612345678", "x");
        r.expires_at = Some("tomorrow".into());
        assert_eq!(code(r), ("invalid_expires_at", "expires_at".into()));
        let mut r = request("+33612345678", "x");
        r.priority = Some(1000);
        assert_eq!(code(r), ("invalid_priority", "priority".into()));
        let mut r = request("+33612345678", "x");
        r.metadata = Some(Value::from(3));
        assert_eq!(code(r), ("invalid_metadata", "metadata".into()));
    }

    #[test]
    fn nul_in_metadata_is_found_with_its_path() {
        let map = |v: Value| v.as_object().cloned().expect("object");
        assert_eq!(
            nul_in(&map(serde_json::json!({"a": [1, {"b/c": "x\u{0}"}]}))).as_deref(),
            Some("/a/1/b~1c")
        );
        assert_eq!(
            nul_in(&map(serde_json::json!({"ok": "x", "k\u{0}": 1}))).as_deref(),
            Some("/k\\u0000")
        );
        assert_eq!(
            nul_in(&map(
                serde_json::json!({"a": ["\\u0000"], "b": {"c": null}})
            )),
            None
        );
        let mut r = request("+33612345678", "x");
        r.metadata = Some(serde_json::json!({"a": "\u{0}"}));
        let e = NewMessage::parse(r, None, OffsetDateTime::now_utc()).expect_err("refused");
        assert!(e.detail.contains("/a"), "{}", e.detail);
    }
}
