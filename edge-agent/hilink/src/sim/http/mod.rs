//! The device's HTTP face: `GET /` with its session cookie, and `/api/<module>/<name>`.
//!
//! Every API request goes through one gate that applies the profile's rules in the order a
//! device does (session cookie, CSRF token, login, request format) and then reaches the
//! handler for its noun. Replies are always HTTP 200 `text/html`, errors included.

mod reply;
mod sms;
mod status;
mod user;
mod ussd;
mod webserver;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use self::reply::{Ctx, Reply, session_cookie, set_cookie_value};
use crate::code as codes;
use crate::headers;
use crate::sim::simulator::Simulator;
use crate::sim::state::State as DeviceState;
use crate::sim::xml::{self, Element};

/// The router of the device API (the server puts it behind the availability gate and
/// merges in the `/sim/` control routes).
pub(crate) fn router(sim: Arc<Simulator>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/html/{*page}", get(home))
        .route("/api/{*path}", any(api))
        .fallback(not_found)
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
        let mut state = sim.lock();
        let id = match session_cookie(&headers) {
            Some(id) if state.sessions.get_mut(&id).is_some() => id,
            _ => state.sessions.create(),
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
    let mut state = sim.lock();
    let mut ctx = Ctx {
        sim,
        profile,
        now: Instant::now(),
        session: None,
        token: None,
    };
    if profile.uses_session() {
        if !post && path == "webserver/SesTokInfo" {
            return webserver::ses_tok_info(&mut state, session_cookie(headers), profile);
        }
        if let Err(code) = admit(&mut state, &mut ctx, post, headers) {
            return Reply::error(code);
        }
    }
    let reply = answer(&mut state, &ctx, post, path, body);
    add_next_token(&mut state, &ctx, post, reply)
}

/// Session and token rules: a live `SessionID` cookie on every call, and on a POST one of
/// the session's valid tokens. Fills in the caller's session and token.
fn admit(
    state: &mut DeviceState,
    ctx: &mut Ctx<'_>,
    post: bool,
    headers: &HeaderMap,
) -> Result<(), u32> {
    let id = session_cookie(headers).ok_or(codes::WRONG_SESSION)?;
    let session = state.sessions.get_mut(&id).ok_or(codes::WRONG_SESSION)?;
    if post {
        let token = headers
            .get(headers::TOKEN)
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
fn answer(state: &mut DeviceState, ctx: &Ctx<'_>, post: bool, path: &str, body: &[u8]) -> Reply {
    let logged_in = ctx.session_in(state).is_some_and(|s| s.logged_in);
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
    dispatch(state, ctx, post, path, &request)
}

/// After an accepted POST the device hands out the next token.
fn add_next_token(state: &mut DeviceState, ctx: &Ctx<'_>, post: bool, reply: Reply) -> Reply {
    if !post || reply.tokens_set {
        return reply;
    }
    match ctx.session_in(state) {
        Some(session) => {
            let token = session.issue_token();
            reply.header(headers::TOKEN, token)
        }
        None => reply,
    }
}

/// Finds the handler for `module/name`.
fn dispatch(
    state: &mut DeviceState,
    ctx: &Ctx<'_>,
    post: bool,
    path: &str,
    request: &Element,
) -> Reply {
    let Some((module, name)) = path.split_once('/') else {
        return Reply::error(codes::NOT_SUPPORTED);
    };
    let reply = match (module, post) {
        ("sms", false) => sms::get(state, ctx, name),
        ("sms", true) => sms::post(state, ctx, name, request),
        ("user", false) => user::get(state, ctx, name),
        ("user", true) => user::post(state, ctx, name, request),
        ("webserver", false) => webserver::get(state, ctx, name),
        ("monitoring" | "net" | "device", false) => status::get(state, ctx, module, name),
        ("device", true) => status::post(state, ctx, name, request),
        ("ussd", false) => ussd::get(state, ctx, name),
        ("ussd", true) => ussd::post(state, ctx, name, request),
        _ => None,
    };
    reply.unwrap_or_else(|| Reply::error(codes::NOT_SUPPORTED))
}
