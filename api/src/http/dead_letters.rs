//! `GET /api/v1/admin/dead-letters` (behind an admin session): the agent events the API
//! kept instead of applying them ([`store::dead_letters`]), newest first, with their raw
//! payload and the reason, for an operator to look at.

use axum::{
    Extension, Json,
    extract::{Query, State, rejection::QueryRejection},
};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    AppState,
    error::{ApiError, Problem},
    session::AdminSession,
};
use crate::{
    domain::FieldError,
    store::{self, dead_letters::DeadLetterRow},
};

/// Rows per page unless asked otherwise.
const DEFAULT_LIMIT: i64 = 100;
/// Most rows per page.
const MAX_LIMIT: i64 = 500;

/// The query of the listing.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Rows per page, 1 to 500 (default 100).
    pub limit: Option<i64>,
    /// Only rows older than this id (the `next_before` of the previous page).
    pub before: Option<i64>,
}

/// A kept event.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeadLetterView {
    /// Row id.
    pub id: i64,
    /// The site its topic names.
    pub site: String,
    /// The topic it came on.
    pub topic: String,
    /// `event/status` or `event/inbound`.
    pub kind: String,
    /// Its event id, acknowledged to the agent.
    pub event_id: Uuid,
    /// Why it was not applied (the database's refusal or the decoding error).
    pub reason: String,
    /// The payload: the JSON document when it is one, else `null` (see `payload_base64`).
    #[schema(value_type = Object)]
    pub payload: Value,
    /// The payload's bytes exactly as they came, base64.
    pub payload_base64: String,
    /// When it was kept.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<DeadLetterRow> for DeadLetterView {
    fn from(row: DeadLetterRow) -> Self {
        Self {
            id: row.id,
            site: row.site_id,
            topic: row.topic,
            kind: row.kind,
            event_id: row.event_id,
            reason: row.reason,
            payload: serde_json::from_slice(&row.payload).unwrap_or(Value::Null),
            payload_base64: base64::engine::general_purpose::STANDARD.encode(&row.payload),
            created_at: row.created_at,
        }
    }
}

/// A page of kept events.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeadLetterList {
    /// Newest first.
    pub dead_letters: Vec<DeadLetterView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<i64>,
}

/// `GET /api/v1/admin/dead-letters`.
#[utoipa::path(
    get, path = "/api/v1/admin/dead-letters", tag = "admin", security(("bearer" = [])),
    params(DeadLetterQuery),
    responses(
        (status = 200, description = "Kept events, newest first", body = DeadLetterList),
        (status = 400, description = "`limit` outside 1 to 500 or a malformed query (`invalid_query`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid admin session", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(_admin): Extension<AdminSession>,
    query: Result<Query<DeadLetterQuery>, QueryRejection>,
) -> Result<Json<DeadLetterList>, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::InvalidRequest(FieldError::new("invalid_query", "", e.body_text()))
    })?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidRequest(FieldError::new(
            "invalid_query",
            "limit",
            format!("`limit` must be 1 to {MAX_LIMIT}"),
        )));
    }
    let mut rows = store::dead_letters::list(&state.db, query.before, limit + 1).await?;
    let next_before = if rows.len() as i64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Json(DeadLetterList {
        dead_letters: rows.into_iter().map(DeadLetterView::from).collect(),
        next_before,
    }))
}
