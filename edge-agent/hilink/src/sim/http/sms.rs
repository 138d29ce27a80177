//! `api/sms/*`: send, status, list, count, delete, mark read, settings.

use super::reply::{Ctx, Reply, flag, number};
use crate::code as codes;
use crate::sim::config::Profile;
use crate::sim::state::storage::ListQuery;
use crate::sim::state::{SmsSettings, State};
use crate::sim::xml::{Element, XmlOut};

/// GET handlers; `None` for an unknown name.
pub(super) fn get(state: &mut State, ctx: &Ctx<'_>, name: &str) -> Option<Reply> {
    let reply = match name {
        "send-status" => {
            let s = state.send_progress(ctx.now);
            let mut out = XmlOut::response();
            out.leaf("Phone", &s.phone)
                .leaf("SucPhone", &s.suc_phone)
                .leaf("FailPhone", &s.fail_phone)
                .leaf("TotalCount", s.total_count)
                .leaf("CurIndex", s.cur_index);
            Reply::xml(out.finish())
        }
        "sms-count" => {
            let c = state.counts(ctx.now);
            let sim_max = if ctx.profile == Profile::E3372h320 {
                100
            } else {
                20
            };
            let mut out = XmlOut::response();
            out.leaf("LocalUnread", c.local_unread)
                .leaf("LocalInbox", c.local_inbox)
                .leaf("LocalOutbox", c.local_outbox)
                .leaf("LocalDraft", c.local_draft)
                .leaf("LocalDeleted", c.local_deleted)
                .leaf("SimUnread", 0)
                .leaf("SimInbox", 0)
                .leaf("SimOutbox", 0)
                .leaf("SimDraft", 0)
                .leaf("LocalMax", c.local_max)
                .leaf("SimMax", sim_max)
                .leaf("SimUsed", 0)
                .leaf("NewMsg", 0);
            Reply::xml(out.finish())
        }
        "config" => {
            let c = state.settings();
            let mut out = XmlOut::response();
            out.leaf("SaveMode", &c.save_mode)
                .leaf("Validity", &c.validity)
                .leaf("Sca", &c.sca)
                .leaf("UseSReport", u8::from(c.use_s_report))
                .leaf("SendType", &c.send_type)
                .leaf("pagesize", 20)
                .leaf("maxphone", 50)
                .leaf("import_enabled", 1)
                .leaf("url_enabled", 1)
                .leaf("cdma_enabled", 0)
                .leaf("smscharlang", 0)
                .leaf("smsisusepdu", 0);
            Reply::xml(out.finish())
        }
        "splitinfo-sms" => {
            let mut out = XmlOut::response();
            out.leaf("splitinfo", 1).leaf("convert_type", 0);
            Reply::xml(out.finish())
        }
        _ => return None,
    };
    Some(reply)
}

/// POST handlers; `None` for an unknown name.
pub(super) fn post(
    state: &mut State,
    ctx: &Ctx<'_>,
    name: &str,
    request: &Element,
) -> Option<Reply> {
    let reply = match name {
        "send-sms" => {
            let (phones, text) = message_fields(request);
            Reply::from_result(state.send(ctx.now, phones, text))
        }
        "save-sms" => {
            let (phones, text) = message_fields(request);
            Reply::from_result(state.save_draft(ctx.now, phones, text).map(|_| ()))
        }
        "cancel-send" => {
            state.cancel_send(ctx.now);
            Reply::ok()
        }
        "sms-list" => match list_query(request).and_then(|q| state.list(ctx.now, q)) {
            Ok(messages) => {
                let mut out = XmlOut::response();
                out.leaf("Count", messages.len()).open("Messages");
                for m in &messages {
                    out.open("Message")
                        .leaf("Smstat", m.smstat)
                        .leaf("Index", m.index)
                        .leaf("Phone", &m.phone)
                        .leaf("Content", &m.content)
                        .leaf("Date", &m.date)
                        .leaf("Sca", "")
                        .leaf("SaveType", m.save_type)
                        .leaf("Priority", m.priority)
                        .leaf("SmsType", m.sms_type)
                        .close("Message");
                }
                out.close("Messages");
                Reply::xml(out.finish())
            }
            Err(code) => Reply::error(code),
        },
        "delete-sms" => match indices(request) {
            Ok(list) => Reply::from_result(state.delete(ctx.now, &list)),
            Err(code) => Reply::error(code),
        },
        "set-read" => match indices(request) {
            Ok(list) => Reply::from_result(state.set_read(ctx.now, &list)),
            Err(code) => Reply::error(code),
        },
        "config" => match sms_settings(state.settings(), request) {
            Ok(settings) => {
                state.set_settings(settings);
                Reply::ok()
            }
            Err(code) => Reply::error(code),
        },
        _ => return None,
    };
    Some(reply)
}

/// Recipients and text of a send-sms or save-sms body. `Length`, `Reserved`, `Date` and
/// `Sca` are not checked: real devices evidently ignore them (notes §3.1).
fn message_fields(request: &Element) -> (Vec<String>, String) {
    let phones = request
        .child("Phones")
        .map(|p| {
            p.children_named("Phone")
                .map(|e| e.text.trim().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let text = request.raw("Content").unwrap_or_default().to_owned();
    (phones, text)
}

fn list_query(request: &Element) -> Result<ListQuery, u32> {
    Ok(ListQuery {
        page_index: number(request, "PageIndex", 1)?,
        read_count: number(request, "ReadCount", 20)?,
        box_type: number(request, "BoxType", 1)?,
        sort_type: number(request, "SortType", 0)?,
        ascending: flag(request, "Ascending").unwrap_or(false),
        unread_preferred: flag(request, "UnreadPreferred").unwrap_or(false),
    })
}

/// The `<Index>` siblings of a delete or set-read body.
fn indices(request: &Element) -> Result<Vec<u32>, u32> {
    let list: Vec<u32> = request
        .children_named("Index")
        .map(|e| e.text.trim().parse().map_err(|_| codes::PARAMETER_ERROR))
        .collect::<Result<_, _>>()?;
    if list.is_empty() {
        return Err(codes::FORMAT_ERROR);
    }
    Ok(list)
}

/// New `sms/config` settings from a POST body; fields left out keep their value.
fn sms_settings(current: &SmsSettings, request: &Element) -> Result<SmsSettings, u32> {
    let mut config = current.clone();
    let text = |name: &str, field: &mut String| {
        if let Some(value) = request.trimmed(name) {
            *field = value.to_owned();
        }
    };
    text("SaveMode", &mut config.save_mode);
    text("Validity", &mut config.validity);
    text("Sca", &mut config.sca);
    text("SendType", &mut config.send_type);
    text("Priority", &mut config.priority);
    if request.child("UseSReport").is_some() {
        config.use_s_report = flag(request, "UseSReport").ok_or(codes::PARAMETER_ERROR)?;
    }
    Ok(config)
}
