//! The JSON body extractor of the API. Unlike axum's `Json`, every rejection is a problem
//! answer with a code and, where serde can tell, the field at fault: malformed JSON is 400
//! `malformed_json`, a wrong type 422 `invalid_type`, a missing field 422 `missing_field`,
//! an oversize body 413 and a non-JSON content type 415.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use crate::domain::FieldError;

/// A JSON object body read as `T`, with the parsed document kept for hashing (idempotency).
#[derive(Debug)]
pub struct ApiJson<T> {
    /// The body as `T`.
    pub value: T,
    /// The body as a JSON document.
    pub raw: Value,
}

fn is_json(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Middleware: a request that has a body must say it is JSON (415
/// `unsupported_media_type` otherwise). [`ApiJson`] alone also reads a body that comes
/// without any content type, as seed clients send them to `POST /api/v1/messages`.
pub async fn require_json_body(req: Request, next: Next) -> Response {
    let headers = req.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json);
    if has_body && !json {
        return ApiError::UnsupportedMediaType.into_response();
    }
    next.run(req).await
}

/// Turns a serde error at a path into a field error.
fn field_error(error: serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let path = error.path().to_string();
    let message = error.inner().to_string();
    // serde reports a missing field at the path of the object that lacks it.
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some(name) = rest.split('`').next()
    {
        let field = if path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return FieldError::new("missing_field", field, format!("`{name}` is required"));
    }
    let field = if path == "." { String::new() } else { path };
    FieldError::new("invalid_type", field, message)
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Clients that send no content type at all are accepted (seed clients did).
        if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
            let ok = content_type.to_str().map(is_json).unwrap_or(false);
            if !ok {
                return Err(ApiError::UnsupportedMediaType);
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::MalformedJson(e.body_text())
            }
        })?;
        let raw: Value =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
        // serde would read a struct from an array too (fields in order): refuse that.
        if !raw.is_object() {
            return Err(ApiError::InvalidBody(FieldError::new(
                "invalid_type",
                "",
                "the request body must be a JSON object",
            )));
        }
        let value = serde_path_to_error::deserialize(&raw)
            .map_err(|e| ApiError::InvalidBody(field_error(e)))?;
        Ok(Self { value, raw })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }

    #[test]
    fn serde_errors_name_the_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            phone: String,
            inner: Option<Inner>,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            n: u8,
        }
        let check = |v: Value| {
            let e = serde_path_to_error::deserialize::<_, Body>(&v).expect_err("refused");
            let f = field_error(e);
            (f.code, f.field)
        };
        assert_eq!(
            check(serde_json::json!({})),
            ("missing_field", "phone".into())
        );
        assert_eq!(
            check(serde_json::json!({"phone": 5})),
            ("invalid_type", "phone".into())
        );
        assert_eq!(
            check(serde_json::json!({"phone": "x", "inner": {"n": "a"}})),
            ("invalid_type", "inner.n".into())
        );
    }
}
