//! `api/ussd/*`: send a code, poll for the network's answer, see whether a dialog is open,
//! release it. Shapes as in the E3372 WebUI 17 (`js/ussd.js`); `release` is a GET there.

use super::reply::{Ctx, Reply};
use crate::sim::state::State;
use crate::sim::xml::{Element, XmlOut};

/// GET handlers; `None` for an unknown name.
pub(super) fn get(state: &mut State, ctx: &Ctx<'_>, name: &str) -> Option<Reply> {
    let reply = match name {
        "status" => {
            let open = state.ussd.dialog_open(ctx.now);
            let mut out = XmlOut::response();
            out.leaf("result", u8::from(open));
            Reply::xml(out.finish())
        }
        "get" => match state.ussd.get(ctx.now) {
            Ok(content) => {
                let mut out = XmlOut::response();
                out.leaf("content", content);
                Reply::xml(out.finish())
            }
            Err(code) => Reply::error(code),
        },
        "release" => {
            state.ussd.release();
            Reply::ok()
        }
        _ => return None,
    };
    Some(reply)
}

/// POST handlers; `None` for an unknown name. `codeType` and `timeout` are not checked:
/// the WebUI sends `CodeType` and huawei-lte-api `codeType`, both with an empty timeout.
pub(super) fn post(
    state: &mut State,
    ctx: &Ctx<'_>,
    name: &str,
    request: &Element,
) -> Option<Reply> {
    if name != "send" {
        return None;
    }
    let code = request.trimmed("content").unwrap_or_default();
    let delay = state.timings().ussd_delay;
    Some(Reply::from_result(state.ussd.send(ctx.now, code, delay)))
}
