//! The device's HTTP face: `GET /` with its session cookie, and `/api/<module>/<name>`.
//!
//! Every API request goes through one gate that applies the profile's rules in the order a
//! device does (session cookie, CSRF token, login, request format) and then reaches the
//! handler for its noun. Replies are always HTTP 200 `text/html`, errors included.

mod sms;
mod status;
mod user;
mod webserver;

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Router, middleware};
use std::sync::Arc;

use super::config::Profile;
use super::server::{Inner, Simulator};
use super::session::Session;
use super::xml::{self, Element};
use crate::code as codes;

/// Request header and reply header carrying the CSRF token.
pub(super) const TOKEN_HEADER: &str = "__RequestVerificationToken";

/// What one API call answers: the XML body and extra headers.
#[derive(Debug)]
pub(super) struct Reply {
    body: String,
    headers: Vec<(&'static str, String)>,
    /// The handler already put the next tokens in the headers (logins do).
    tokens_set: bool,
}

impl Reply {
    fn xml(body: String) -> Self {
        Reply {
            body,
            headers: Vec::new(),
            tokens_set: false,
        }
    }

    fn ok() -> Self {
        Reply::xml(xml::ok())
    }

    fn error(code: u32) -> Self {
        Reply::xml(xml::error(code))
    }

    fn from_result(result: Result<(), u32>) -> Self {
        match result {
            Ok(()) => Reply::ok(),
            Err(code) => Reply::error(code),
        }
    }

    fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    fn set_cookie(self, id: &str) -> Self {
        self.header("Set-Cookie", set_cookie_value(id))
    }
}

/// What a handler knows about the request besides its body.
pub(super) struct Ctx<'a> {
    sim: &'a Simulator,
    profile: Profile,
    now: Instant,
    /// The caller's session id, when the profile has sessions.
    session: Option<String>,
    /// The token the POST carried.
    token: Option<String>,
}

/// The router of the device API (the `/sim/` control routes are merged in by the server).
pub(super) fn router(sim: Arc<Simulator>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/html/{*page}", get(home))
        .route("/api/{*path}", any(api))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            sim.clone(),
            super::server::availability_gate,
        ))
        .with_state(sim)
}

/// Headers every reply of the device carries (from the WebUI capture).
fn device_response(body: String, extra: Vec<(&'static str, String)>, close: bool) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    headers.insert(header::SERVER, HeaderValue::from_static("WebServer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("X-Frame-Options", HeaderValue::from_static("deny"));
    headers.insert("X-Download-Options", HeaderValue::from_static("noopen"));
    if close {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    for (name, value) in extra {
        match HeaderValue::from_str(&value) {
            Ok(v) => {
                headers.append(name, v);
            }
            Err(e) => tracing::warn!(name, error = %e, "dropping an unencodable header"),
        }
    }
    response
}

/// The WebUI home page; on profiles with sessions it opens one (`Set-Cookie`).
/// A caller that still holds a live session keeps it.
async fn home(State(sim): State<Arc<Simulator>>, headers: HeaderMap) -> Response {
    let mut extra = Vec::new();
    if sim.profile().uses_session() {
        let mut inner = sim.lock();
        let id = match session_cookie(&headers) {
            Some(id) if inner.sessions.get_mut(&id).is_some() => id,
            _ => inner.sessions.create(),
        };
        extra.push(("Set-Cookie", set_cookie_value(&id)));
    }
    let page = "<!DOCTYPE html>\n<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n<title>HUAWEI</title>\n</head>\n<body>\n<div id=\"all_content\"></div>\n</body>\n</html>\n";
    device_response(page.to_owned(), extra, false)
}

/// Anything outside `/` and `/api/`: the device does not know it.
async fn not_found() -> Response {
    device_response(xml::error(codes::NOT_SUPPORTED), Vec::new(), false)
}

/// One `/api/…` call.
async fn api(
    State(sim): State<Arc<Simulator>>,
    method: Method,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let post = method == Method::POST;
    let reply = if !(post || method == Method::GET) {
        Reply::error(codes::NOT_SUPPORTED)
    } else {
        let latency = sim.timings().request_latency;
        match BusyGuard::enter(&sim, &headers, latency) {
            Err(code) => Reply::error(code),
            Ok(_guard) => {
                tokio::time::sleep(latency).await;
                handle(&sim, post, &path, &headers, &body)
            }
        }
    };
    tracing::debug!(%method, %path, "device api call");
    device_response(reply.body, reply.headers, post)
}

/// Marks a session busy while one of its calls is being answered (only when calls take
/// time), so that a concurrent call gets 125002 like on a real stick.
struct BusyGuard<'a> {
    sim: &'a Simulator,
    session: Option<String>,
}

impl<'a> BusyGuard<'a> {
    fn enter(sim: &'a Simulator, headers: &HeaderMap, latency: Duration) -> Result<Self, u32> {
        let mut guard = BusyGuard { sim, session: None };
        if latency.is_zero() {
            return Ok(guard);
        }
        let Some(id) = session_cookie(headers) else {
            return Ok(guard);
        };
        if let Some(session) = sim.lock().sessions.get_mut(&id) {
            if session.busy {
                tracing::debug!("concurrent request on one session");
                return Err(codes::WRONG_SESSION);
            }
            session.busy = true;
            guard.session = Some(id);
        }
        Ok(guard)
    }
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        if let Some(id) = &self.session
            && let Some(session) = self.sim.lock().sessions.get_mut(id)
        {
            session.busy = false;
        }
    }
}

/// The `Set-Cookie` value that hands out session `id`.
fn set_cookie_value(id: &str) -> String {
    format!("SessionID={id}; path=/; HttpOnly")
}

/// The `SessionID` cookie of a request.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "SessionID")
        .map(|(_, value)| value.to_owned())
}

/// API calls a 10.x device answers before login.
fn open_before_login(path: &str) -> bool {
    path.starts_with("webserver/")
        || matches!(
            path,
            "user/state-login"
                | "user/hilink_login"
                | "user/login"
                | "user/challenge_login"
                | "user/authentication_login"
        )
}

/// The gate: session, token, login and format rules, then the handler.
fn handle(sim: &Simulator, post: bool, path: &str, headers: &HeaderMap, body: &[u8]) -> Reply {
    let profile = sim.profile();
    let mut inner = sim.lock();
    let mut ctx = Ctx {
        sim,
        profile,
        now: Instant::now(),
        session: None,
        token: None,
    };
    if profile.uses_session() {
        if !post && path == "webserver/SesTokInfo" {
            return webserver::ses_tok_info(&mut inner, session_cookie(headers), profile);
        }
        if let Err(code) = admit(&mut inner, &mut ctx, post, headers) {
            return Reply::error(code);
        }
    }
    let reply = answer(&mut inner, &ctx, post, path, body);
    add_next_token(&mut inner, &ctx, post, reply)
}

/// Session and token rules: a live `SessionID` cookie on every call, and on a POST one of
/// the session's valid tokens. Fills in the caller's session and token.
fn admit(inner: &mut Inner, ctx: &mut Ctx<'_>, post: bool, headers: &HeaderMap) -> Result<(), u32> {
    let id = session_cookie(headers).ok_or(codes::WRONG_SESSION)?;
    let session = inner.sessions.get_mut(&id).ok_or(codes::WRONG_SESSION)?;
    if post {
        let token = headers
            .get(TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .ok_or(codes::WRONG_SESSION_TOKEN)?;
        if !session.accepts(&token) {
            return Err(codes::WRONG_TOKEN);
        }
        ctx.token = Some(token);
    }
    ctx.session = Some(id);
    Ok(())
}

/// Login and format rules, then the handler for the path.
fn answer(inner: &mut Inner, ctx: &Ctx<'_>, post: bool, path: &str, body: &[u8]) -> Reply {
    let logged_in = session(inner, ctx).is_some_and(|s| s.logged_in);
    if ctx.profile.login_required() && !logged_in && !open_before_login(path) {
        return Reply::error(codes::NO_RIGHT);
    }
    let request = if post {
        match xml::parse_request(body) {
            Ok(request) => request,
            Err(e) => {
                tracing::debug!(%path, error = %e, "unreadable request body");
                return Reply::error(codes::FORMAT_ERROR);
            }
        }
    } else {
        Element::default()
    };
    if post && ctx.profile.rejects_pretty_xml() && request.is_pretty() {
        return Reply::error(codes::FORMAT_ERROR);
    }
    dispatch(inner, ctx, post, path, &request)
}

/// After an accepted POST the device hands out the next token.
fn add_next_token(inner: &mut Inner, ctx: &Ctx<'_>, post: bool, reply: Reply) -> Reply {
    if !post || reply.tokens_set {
        return reply;
    }
    match ctx
        .session
        .as_deref()
        .and_then(|id| inner.sessions.get_mut(id))
    {
        Some(session) => {
            let token = session.issue_token();
            reply.header(TOKEN_HEADER, token)
        }
        None => reply,
    }
}

/// Finds the handler for `module/name`.
fn dispatch(inner: &mut Inner, ctx: &Ctx<'_>, post: bool, path: &str, request: &Element) -> Reply {
    let Some((module, name)) = path.split_once('/') else {
        return Reply::error(codes::NOT_SUPPORTED);
    };
    let reply = match (module, post) {
        ("sms", false) => sms::get(inner, ctx, name),
        ("sms", true) => sms::post(inner, ctx, name, request),
        ("user", false) => user::get(inner, ctx, name),
        ("user", true) => user::post(inner, ctx, name, request),
        ("webserver", false) => webserver::get(inner, ctx, name),
        ("monitoring" | "net" | "device", false) => status::get(inner, ctx, module, name),
        ("device", true) => status::post(inner, ctx, name, request),
        _ => None,
    };
    reply.unwrap_or_else(|| Reply::error(codes::NOT_SUPPORTED))
}

/// Reads a number field, treating a missing or empty one as `default`.
fn number<T: std::str::FromStr>(request: &Element, name: &str, default: T) -> Result<T, u32> {
    match request.text_of(name) {
        None | Some("") => Ok(default),
        Some(text) => text.parse().map_err(|_| codes::PARAMETER_ERROR),
    }
}

/// Reads a flag sent as `0`/`1` or, by huawei-lte-api, as `true`/`false`.
fn flag(request: &Element, name: &str) -> Option<bool> {
    match request.text_of(name)?.to_ascii_lowercase().as_str() {
        "1" | "true" => Some(true),
        "0" | "false" | "" => Some(false),
        _ => None,
    }
}

/// The session a handler runs in.
fn session<'a>(inner: &'a mut Inner, ctx: &Ctx<'_>) -> Option<&'a mut Session> {
    ctx.session
        .as_deref()
        .and_then(|id| inner.sessions.get_mut(id))
}
