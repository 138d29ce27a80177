//! `api/webserver/*`: where a client gets its session and first CSRF token.
//!
//! E303 firmware has neither endpoint (100002), which is how clients recognise a device
//! without CSRF protection.

use super::reply::{Ctx, Reply};
use crate::sim::config::Profile;
use crate::sim::state::State;
use crate::sim::xml::XmlOut;

/// `GET webserver/SesTokInfo`: the caller's session (a new one when its cookie is missing or
/// stale) and a fresh token. 22.x firmware sends `SessionID=<id>`, the 10.x profile the bare
/// id, so that clients meet both forms.
pub(super) fn ses_tok_info(state: &mut State, cookie: Option<String>, profile: Profile) -> Reply {
    let id = match cookie.filter(|id| state.sessions.get_mut(id).is_some()) {
        Some(id) => id,
        None => state.sessions.create(),
    };
    let token = state
        .sessions
        .get_mut(&id)
        .map(|s| s.issue_token())
        .unwrap_or_default();
    let ses_info = if profile == Profile::E3372h320 {
        id
    } else {
        format!("SessionID={id}")
    };
    let mut out = XmlOut::response();
    out.leaf("SesInfo", ses_info).leaf("TokInfo", token);
    Reply::xml(out.finish())
}

/// GET handlers; `None` for an unknown name.
pub(super) fn get(state: &mut State, ctx: &Ctx<'_>, name: &str) -> Option<Reply> {
    if ctx.profile == Profile::E303 || name != "token" {
        return None;
    }
    let token = ctx.session_in(state)?.issue_token();
    let mut out = XmlOut::response();
    out.leaf("token", token);
    Some(Reply::xml(out.finish()))
}
