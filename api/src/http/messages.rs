//! `/api/v1/messages`: send a message, list messages, read one with its status history,
//! cancel one that has not reached a modem yet.
//!
//! Sending stores the message (status `queued`), spends one unit of the key's rate limit
//! and records the idempotency answer in ONE transaction: either all of it happens or
//! none of it does. That transaction is shared with concurrent sends (group commit, see
//! [`super::accept`]); each request still waits for its commit before it is answered.

use axum::{
    Extension, Json,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use smsgw_shared::state::MessageState;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    AppState,
    accept::{Accepted, Outcome, Submission},
    auth::{self, AuthenticatedKey},
    error::{ApiError, Problem},
    json::ApiJson,
};
use crate::{
    domain::{
        FieldError,
        cursor::Cursor,
        key_scope::Permission,
        listing::{Direction, ListFilter, ListQuery},
        new_message::{NewMessage, SendMessageRequest},
    },
    store::{
        self,
        dispatch::CancelRequest,
        messages::{Erasure, EventRow, MessageRow},
    },
};

/// Longest `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// A message as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    /// Message id (UUID v7).
    pub id: Uuid,
    /// `outgoing` (sent through the gateway) or `incoming` (received by a modem), the
    /// original gateway's words.
    pub direction: Direction,
    /// Current status.
    pub status: String,
    /// The other party: E.164; for an inbound SMS a sender name such as `BANK` as given,
    /// or what could be made of a sender the network garbled (see `sender_raw`).
    pub phone: String,
    /// The sender of an inbound SMS exactly as the network gave it, when `phone` is not
    /// exactly it (normalised to E.164, cut to 64 characters, or empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_raw: Option<String>,
    /// The text.
    pub content: String,
    /// Site it goes through.
    pub site: Option<String>,
    /// Modem, if chosen.
    pub modem: Option<String>,
    /// `gsm7` or `ucs2`.
    pub encoding: String,
    /// SMS segments.
    pub segments: i32,
    /// Priority.
    pub priority: i16,
    /// Whether a delivery report was asked for.
    pub delivery_report: bool,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Client data.
    pub metadata: Option<Value>,
    /// Why it failed, if it did.
    pub error: Option<ErrorView>,
    /// Send attempts so far.
    pub attempts: i32,
    /// When the message was stored: the original gateway's name for it.
    #[serde(with = "time::serde::rfc3339")]
    pub inserted_at: OffsetDateTime,
    /// The same instant as `inserted_at`.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When its number, text and client data were erased (`DELETE`); they are empty.
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub erased_at: Option<OffsetDateTime>,
    /// When it entered each state it has been in, e.g. `{"queued": "2026-…"}`.
    #[schema(value_type = Object)]
    pub timestamps: serde_json::Map<String, Value>,
    /// Status history (single-message answers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<EventView>>,
}

/// A failure reason.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorView {
    /// Stable code.
    pub code: Option<String>,
    /// Detail for people.
    pub detail: Option<String>,
}

/// One entry of a status history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    /// Event id.
    pub event_id: Uuid,
    /// The state reported.
    pub state: String,
    /// `api` or `agent`.
    pub source: String,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Modem that reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modem: Option<String>,
    /// Attempt number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i32>,
    /// Error code reported with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Error detail reported with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
    /// Whether it moved the message forward (duplicates and late events do not).
    pub applied: bool,
}

fn rfc3339(at: OffsetDateTime) -> Value {
    at.format(&time::format_description::well_known::Rfc3339)
        .map(Value::String)
        .unwrap_or(Value::Null)
}

impl From<MessageRow> for MessageView {
    fn from(row: MessageRow) -> Self {
        let timestamps = row
            .state_times()
            .into_iter()
            .map(|(state, at)| (state.to_owned(), rfc3339(at)))
            .collect();
        let error = (row.error_code.is_some() || row.error_detail.is_some()).then(|| ErrorView {
            code: row.error_code.clone(),
            detail: row.error_detail.clone(),
        });
        Self {
            id: row.id,
            direction: Direction::from_db(&row.direction),
            status: row.status,
            phone: row.phone,
            sender_raw: row.sender_raw,
            content: row.content,
            site: row.site_id,
            modem: row.modem_id,
            encoding: row.encoding,
            segments: row.segments,
            priority: row.priority,
            delivery_report: row.delivery_report,
            expires_at: row.expires_at,
            metadata: row.metadata,
            error,
            attempts: row.attempts,
            inserted_at: row.created_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            erased_at: row.erased_at,
            timestamps,
            history: None,
        }
    }
}

impl From<EventRow> for EventView {
    fn from(row: EventRow) -> Self {
        Self {
            event_id: row.event_id,
            state: row.state,
            source: row.source,
            at: row.at,
            modem: row.modem_id,
            attempt: row.attempt,
            error_code: row.error_code,
            error_detail: row.error_detail,
            applied: row.applied,
        }
    }
}

/// A page of messages.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageList {
    /// The messages, newest first.
    pub messages: Vec<MessageView>,
    /// Rows per page asked for.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The `Idempotency-Key` header, checked.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::InvalidRequest(FieldError::new(
            "invalid_idempotency_key",
            "Idempotency-Key",
            format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
            ),
        ))
    };
    let text = value.to_str().map_err(|_| invalid())?.trim();
    if text.is_empty()
        || text.len() > MAX_IDEMPOTENCY_KEY_LEN
        || !text.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(invalid());
    }
    Ok(Some(text.to_owned()))
}

/// Hash of a request body, insensitive to key order and white space.
fn request_hash(body: &Value) -> Vec<u8> {
    // serde_json's map is ordered by key, so equal documents serialise equally.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    Sha256::digest(&bytes).to_vec()
}

/// The JSON body of a message answer; the batch stores it as the idempotent answer, too.
pub fn message_body(row: MessageRow) -> Result<Value, serde_json::Error> {
    serde_json::to_value(MessageView::from(row))
}

/// `POST /api/v1/messages`: validate, route and store a message as `queued`.
#[utoipa::path(
    post, path = "/api/v1/messages", tag = "messages", security(("api_key" = []), ("bearer" = [])),
    request_body = SendMessageRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body: the same answer and no second message")),
    responses(
        (status = 201, description = "Stored as queued", body = MessageView),
        (status = 200, description = "Replay of an earlier answer (Idempotent-Replayed: true)", body = MessageView),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, unknown or revoked API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `send` (`permission_denied`), or the site named is not one of the key's (`site_not_allowed`, `field` = `site`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No site is registered", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, of the wrong type or invalid; `field` names it", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limit reached; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database out of reach (`database_unavailable`); nothing stored, retry after Retry-After", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<ApiJson<SendMessageRequest>, ApiError>,
) -> Result<Response, ApiError> {
    // The key is looked up with the batch; a missing or malformed one is refused here.
    let key_hash = auth::presented_hash(&state, &headers)?;
    let checked = body.and_then(|body| Ok((body, idempotency_key(&headers)?)));
    let (ApiJson { value, raw }, idempotency) = match checked {
        Ok(checked) => checked,
        Err(e) => {
            // Not even a message to store: the key alone decides between a 401 and this.
            let key = auth::find_key(&state, key_hash).await?;
            let mut response = e.into_response();
            auth::put_rate_limit(&state.db, &key, &mut response).await;
            return Ok(response);
        }
    };
    let submission = Submission {
        key_hash,
        idempotency: idempotency.map(|k| (k, request_hash(&raw))),
        message: NewMessage::parse(value, state.region, OffsetDateTime::now_utc()),
    };
    let Outcome { key, answer } = state.accept.submit(submission).await;
    let mut response = match answer {
        Ok(Accepted::Created { row, rate }) => {
            if let Some(broker) = &state.broker {
                broker.wake_dispatcher();
            }
            metrics::counter!("smsgw_messages_accepted_total").increment(1);
            let id = row.id;
            tracing::info!(
                message_id = %id,
                site = row.site_id.as_deref().unwrap_or_default(),
                key = key.as_ref().map(|k| k.prefix.as_str()).unwrap_or_default(),
                "message queued"
            );
            let body = message_body(*row)
                .map_err(|e| ApiError::Internal(format!("cannot serialise a message: {e}")))?;
            let mut response = (StatusCode::CREATED, Json(body)).into_response();
            if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/messages/{id}")) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response.extensions_mut().insert(rate);
            response
        }
        Ok(Accepted::Replay { status, body }) => {
            let mut response = (status, Json(body)).into_response();
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        Err(e) => e.into_response(),
    };
    if let Some(key) = &key {
        auth::put_rate_limit(&state.db, key, &mut response).await;
    }
    Ok(response)
}

/// The key as a reader of messages; a key that may read neither its own messages nor any
/// inbound SMS is refused (403 `permission_denied`).
fn reader(key: &AuthenticatedKey) -> Result<store::messages::Viewer, ApiError> {
    let viewer = key.viewer();
    if !viewer.own && viewer.inbound.is_none() {
        return Err(ApiError::PermissionDenied(Permission::Read));
    }
    Ok(viewer)
}

/// `GET /api/v1/messages`: the key's messages, filtered, newest first.
#[utoipa::path(
    get, path = "/api/v1/messages", tag = "messages", security(("api_key" = []), ("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of messages", body = MessageList),
        (status = 400, description = "Unknown status or direction, bad date, limit over 500, foreign cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, unknown or revoked API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key has neither `read` nor `inbound` (`permission_denied`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(key): Extension<AuthenticatedKey>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<MessageList>, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::InvalidRequest(FieldError::new("invalid_query", "", e.body_text()))
    })?;
    let filter = ListFilter::parse(query, state.region).map_err(ApiError::InvalidRequest)?;
    let mut rows = store::messages::list_visible(&state.db, &reader(&key)?, &filter).await?;
    let limit = usize::try_from(filter.limit).unwrap_or(usize::MAX);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|last| {
            Cursor {
                created_at: last.created_at,
                id: last.id,
            }
            .encode()
        })
    } else {
        None
    };
    Ok(Json(MessageList {
        messages: rows.into_iter().map(MessageView::from).collect(),
        limit: filter.limit,
        offset: filter.offset,
        next_cursor,
    }))
}

/// `GET /api/v1/messages/{id}`: one message with its status history.
#[utoipa::path(
    get, path = "/api/v1/messages/{id}", tag = "messages", security(("api_key" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "Message id")),
    responses(
        (status = 200, description = "The message and its history", body = MessageView),
        (status = 401, description = "Missing, malformed, unknown or revoked API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key has neither `read` nor `inbound` (`permission_denied`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message, or not one this key may see", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Extension(key): Extension<AuthenticatedKey>,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    // An id that is not a UUID names no message: the same 404 as another key's message.
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("message"))?;
    let row = store::messages::find_visible(&state.db, &reader(&key)?, id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    let history = store::messages::history(&state.db, id).await?;
    let mut view = MessageView::from(row);
    view.history = Some(history.into_iter().map(EventView::from).collect());
    Ok(Json(view))
}

/// `POST /api/v1/messages/{id}/cancel`: cancel a message that has not reached a modem.
#[utoipa::path(
    post, path = "/api/v1/messages/{id}/cancel", tag = "messages", security(("api_key" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "Message id")),
    responses(
        (status = 200, description = "Canceled (also when it already was)", body = MessageView),
        (status = 202, description = "The branch may already hold it: a cancel command is on its way, and the message becomes `canceled`, or `sending` when it was too late; its history shows `cancel_requested`", body = MessageView),
        (status = 401, description = "Missing, malformed, unknown or revoked API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `send` (`permission_denied`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message, or not one this key may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already with a modem or finished", body = Problem, content_type = "application/problem+json"),
    )
)]
/// A message that never left the API is canceled at once; one the agent may hold gets a
/// cancel command and the agent decides (it may already be sending). Canceling a canceled
/// message answers it again; a message further along is a 409.
pub async fn cancel(
    State(state): State<AppState>,
    Extension(key): Extension<AuthenticatedKey>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    key.require(Permission::Send)?;
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("message"))?;
    let mut tx = state.db.begin().await?;
    let status = store::messages::lock_owned(&mut tx, key.id, id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    let current: MessageState = status
        .parse()
        .map_err(|e| ApiError::Internal(format!("message {id}: {e}")))?;
    let answer = match current {
        MessageState::Canceled => StatusCode::OK,
        MessageState::Pending | MessageState::Queued => {
            store::messages::mark_canceled(&mut tx, id).await?;
            metrics::counter!("smsgw_messages_canceled_total").increment(1);
            StatusCode::OK
        }
        MessageState::Dispatched | MessageState::Accepted => {
            if store::dispatch::request_cancel(&mut tx, id).await? == CancelRequest::Recorded {
                metrics::counter!("smsgw_cancel_requests_total").increment(1);
            }
            StatusCode::ACCEPTED
        }
        other => return Err(ApiError::NotCancelable(other.as_str())),
    };
    tx.commit().await?;
    if answer == StatusCode::ACCEPTED
        && let Some(broker) = &state.broker
    {
        broker.wake_dispatcher();
    }
    let row = store::messages::find_visible(&state.db, &key.viewer(), id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    Ok((answer, Json(MessageView::from(row))).into_response())
}

/// `DELETE /api/v1/messages/{id}`: erase a message's number and text.
#[utoipa::path(
    delete, path = "/api/v1/messages/{id}", tag = "messages", security(("api_key" = []), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "Message id")),
    responses(
        (status = 200, description = "Erased (also when it already was): number, text, client data and raw sender are empty, `erased_at` is set; states, times and history stay", body = MessageView),
        (status = 401, description = "Missing, malformed, unknown or revoked API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key has neither `read` nor `inbound` (`permission_denied`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message, or not one this key may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still on its way to a branch (`not_erasable`): cancel it first, or wait until it is sent", body = Problem, content_type = "application/problem+json"),
    )
)]
/// Any message the key may see can be erased (GDPR erasure, or an OTP nobody should read
/// again); one the API may still publish to a branch is refused, since the branch needs
/// its number and text.
pub async fn erase(
    State(state): State<AppState>,
    Extension(key): Extension<AuthenticatedKey>,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("message"))?;
    // Who may see a message never changes: look first, then erase.
    store::messages::find_visible(&state.db, &reader(&key)?, id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    match store::messages::erase(&state.db, id, |row| message_body(row.clone())).await? {
        Erasure::Erased(row) => {
            tracing::info!(message_id = %id, key = %key.prefix, "message erased");
            metrics::counter!("smsgw_messages_erased_total").increment(1);
            Ok(Json(MessageView::from(*row)))
        }
        Erasure::InFlight(status) => Err(ApiError::NotErasable(status)),
        Erasure::Missing => Err(ApiError::NotFound("message")),
    }
}
