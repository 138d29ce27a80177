//! The client's reply parsers on recorded device bytes (`testdata/`).
//!
//! Every file in `testdata/` must parse with the parser of its endpoint; the browser capture is
//! split into its HTTP exchanges and each reply body parsed as well.

use std::path::{Path, PathBuf};

use hilink::model::login::{HilinkLogin, SesTokInfo, StateLogin};
use hilink::model::sms::{SmsListRequest, send_sms_body, sms_type, smstat};
use hilink::xml::{FromResponse, parse_response};
use hilink::{
    CurrentPlmn, DeviceInformation, Error, ErrorClass, MonitoringStatus, Notifications, SendStatus,
    Signal, SmsConfig, SmsCount, SmsList, TrafficStatistics,
};
use time::macros::datetime;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(testdata().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse<T: FromResponse>(name: &str) -> T {
    parse_response(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Parses a file with the parser its name calls for; returns a short description.
fn parse_by_name(name: &str, body: &[u8]) -> Result<String, Error> {
    fn show<T: std::fmt::Debug>(v: T) -> String {
        format!("{v:?}")
    }
    let kind = name.trim_end_matches(".xml");
    Ok(match kind {
        k if k.contains("error") => match parse_response::<()>(body) {
            Err(e @ Error::Device { .. }) => e.to_string(),
            other => panic!("{name}: expected a device error, got {other:?}"),
        },
        k if k.contains("list") || k.contains("messages") => show(parse_response::<SmsList>(body)?),
        k if k.contains("session_token") => show(parse_response::<SesTokInfo>(body)?),
        k if k.contains("signal") => show(parse_response::<Signal>(body)?),
        k if k.contains("monitoring_status") => show(parse_response::<MonitoringStatus>(body)?),
        k if k.contains("trafficStatistics") => show(parse_response::<TrafficStatistics>(body)?),
        k if k.contains("device_information") => show(parse_response::<DeviceInformation>(body)?),
        k if k.contains("check_notifications") => show(parse_response::<Notifications>(body)?),
        k if k.contains("current_plmn") => show(parse_response::<CurrentPlmn>(body)?),
        k if k.contains("sms_config") => show(parse_response::<SmsConfig>(body)?),
        k if k.contains("state_login") => show(parse_response::<StateLogin>(body)?),
        k if k.contains("hilink_login") => show(parse_response::<HilinkLogin>(body)?),
        k if k.contains("send_status") => show(parse_response::<SendStatus>(body)?),
        _ => panic!("{name}: no parser assigned to this fixture"),
    })
}

#[test]
fn every_fixture_file_parses() {
    let mut seen = 0;
    for entry in std::fs::read_dir(testdata()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".xml") {
            continue;
        }
        let body = std::fs::read(&path).unwrap();
        let parsed = parse_by_name(&name, &body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!parsed.is_empty());
        seen += 1;
    }
    assert!(seen >= 17, "only {seen} fixture files");
}

#[test]
fn lk_error_is_a_session_error() {
    let err = parse_response::<SmsList>(&read("lk-error.xml")).unwrap_err();
    assert_eq!(err.code(), Some(125003));
    assert_eq!(err.class(), ErrorClass::RefreshSession);
    assert!(matches!(err, Error::Device { ref message, .. } if message.is_empty()));
}

#[test]
fn lk_session_token_without_prefix() {
    let info: SesTokInfo = parse("lk-session_token.xml");
    assert_eq!(info.session_id.len(), 128);
    assert!(info.session_id.starts_with("947p2lld"));
    assert_eq!(info.token, "T8lgAWOEnf0QBe4eVjRyi1wp9z2FQgl8");
}

#[test]
fn lk_messages() {
    let list: SmsList = parse("lk-messages.xml");
    assert_eq!(list.count, 8);
    assert_eq!(list.messages.len(), 8);
    let first = &list.messages[0];
    assert_eq!(first.index, 40028);
    assert_eq!(first.phone, "01734982893");
    assert_eq!(
        first.content,
        "Vodafone Mailbox: Der Anrufer hat keine Nachricht hinterlassen:\n+491734982893\n 23.04.2021 14:17:34\n 1 Versuch\n"
    );
    assert_eq!(first.date, "2021-04-23 14:17:33");
    assert_eq!(first.datetime(), Some(datetime!(2021-04-23 14:17:33)));
    assert_eq!(first.smstat, smstat::UNREAD);
    assert!(first.is_unread());
    assert_eq!(first.sms_type, sms_type::SINGLE);
    let mms: Vec<_> = list
        .messages
        .iter()
        .filter(|m| m.sms_type == sms_type::MMS_NOTICE)
        .collect();
    assert!(!mms.is_empty());
    assert!(mms.iter().all(|m| m.content.is_empty()));
    assert_eq!(list.messages[1].content, "fhf");
}

#[test]
fn lk_empty_list() {
    let list: SmsList = parse("lk-empty_list.xml");
    assert!(list.messages.is_empty());
    assert_eq!(list.count, 0);
    let list: SmsList = parse("notes-empty_list_hsp.xml");
    assert!(list.messages.is_empty());
}

#[test]
fn lk_signal() {
    let s: Signal = parse("lk-response_device_signal.xml");
    assert_eq!(s.pci, Some(356));
    assert_eq!(s.cell_id.as_deref(), Some("2576387"));
    assert_eq!(s.rsrq, Some(-7.0));
    assert_eq!(s.rsrp, Some(-89.0));
    assert_eq!(s.rssi, Some(-69.0));
    assert_eq!(s.sinr, Some(6.0));
    assert_eq!(s.rscp, None);
    assert_eq!(s.ecio, None);
    assert_eq!(s.mode, Some(7));
    assert_eq!(s.band.as_deref(), Some("20"));
    assert_eq!(s.plmn.as_deref(), Some("26202"));

    let s: Signal = parse("notes-signal_prefixed.xml");
    assert_eq!(s.rssi, Some(-51.0));
    assert_eq!(s.rscp, Some(-71.0));
    assert_eq!(s.ecio, Some(-5.0));
    assert_eq!(s.pci, None);
}

#[test]
fn lk_monitoring_status() {
    let s: MonitoringStatus = parse("lk-response_monitoring_status.xml");
    assert_eq!(s.connection_status, Some(901));
    assert_eq!(s.signal_icon, Some(2));
    assert_eq!(s.max_signal, Some(5));
    assert_eq!(s.signal_strength, None);
    assert_eq!(s.current_network_type, Some(19));
    assert_eq!(s.current_network_type_ex, Some(101));
    assert!(s.sim_ok());
    assert!(s.has_service());
    assert_eq!(s.flymode, Some(0));
}

#[test]
fn lk_traffic_statistics() {
    let t: TrafficStatistics = parse("lk-response_monitoring_trafficStatistics.xml");
    assert_eq!(t.total_download, Some(52_302_611_857));
    assert_eq!(t.current_connect_time, Some(35856));
}

#[test]
fn notes_replies() {
    let info: DeviceInformation = parse("notes-device_information_10x.xml");
    assert_eq!(info.software_version, "10.0.2.2(H190SP1C983)");
    assert_eq!(info.webui_version, "WEBUI 10.0.3.1(W13SP2C7110)");
    assert_eq!(info.uptime, Some(4012));
    assert_eq!(info.msisdn, "");
    let info: DeviceInformation = parse("notes-device_information_22x.xml");
    assert_eq!(info.device_name, "E3372");
    assert_eq!(info.hardware_version, "CL1E3372SM");
    assert_eq!(info.uptime, None);

    let n: Notifications = parse("notes-check_notifications.xml");
    assert!(n.sms_storage_full);
    assert_eq!(n.unread_message, 0);
    assert_eq!(n.sim_oper_event, Some(0));

    let p: CurrentPlmn = parse("notes-current_plmn.xml");
    assert_eq!(
        (p.full_name.as_str(), p.numeric.as_str(), p.rat),
        ("3 DK", "23806", Some(2))
    );
    assert_eq!(p.spn, None);

    let c: SmsConfig = parse("notes-sms_config.xml");
    assert_eq!(c.validity, 10752);
    assert!(!c.use_s_report);

    let s: StateLogin = parse("notes-state_login_10x.xml");
    assert!(s.wants_scram() && !s.logged_in());
    assert!(parse::<HilinkLogin>("notes-hilink_login.xml").required);

    let st: SendStatus = parse("notes-send_status_failed.xml");
    assert!(st.is_done());
    assert_eq!(st.fail_phone, ["+33600000000"]);
}

/// One HTTP exchange of the browser capture.
struct Exchange {
    request_line: String,
    request_body: String,
    response_headers: Vec<String>,
    response_body: String,
}

/// Splits the capture into exchanges. Request bodies run straight into the next
/// `HTTP/1.1 200 OK` on the same line, as recorded.
fn capture_exchanges() -> Vec<Exchange> {
    let text = String::from_utf8(read("e3372-webui-capture.txt")).unwrap();
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = [rest.find("\nGET /api/"), rest.find("\nPOST /api/")]
        .into_iter()
        .flatten()
        .min()
    {
        let block = &rest[at + 1..];
        let (request_head, after_head) = block.split_once("\n\n").unwrap();
        let request_line = request_head.lines().next().unwrap().to_owned();
        let Some(http_at) = after_head.find("HTTP/1.1 ") else {
            break; // the capture's last request has no reply
        };
        let request_body = after_head[..http_at].trim().to_owned();
        let response = &after_head[http_at..];
        let (response_head, response_rest) = response.split_once("\n\n").unwrap();
        let end = [response_rest.find("\n\n\n"), response_rest.find("\n\n#")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(response_rest.len());
        out.push(Exchange {
            request_line,
            request_body,
            response_headers: response_head.lines().skip(1).map(str::to_owned).collect(),
            response_body: response_rest[..end].to_owned(),
        });
        rest = &after_head[http_at..];
    }
    out
}

#[test]
fn capture_replies_parse() {
    let exchanges = capture_exchanges();
    assert_eq!(exchanges.len(), 4);
    for ex in &exchanges {
        let body = ex.response_body.as_bytes();
        let path = ex.request_line.split_whitespace().nth(1).unwrap();
        match path {
            "/api/sms/sms-count" => {
                let c: SmsCount = parse_response(body).unwrap();
                assert_eq!((c.local_unread, c.local_inbox, c.local_outbox), (2, 2, 21));
                assert_eq!((c.local_max, c.sim_max), (500, 20));
                assert_eq!(c.local_used(), 23);
                assert!(!c.is_local_full());
            }
            "/api/sms/sms-list" => {
                let list: SmsList = parse_response(body).unwrap();
                assert_eq!(list.count, 4);
                let idx: Vec<i64> = list.messages.iter().map(|m| m.index).collect();
                assert_eq!(idx, [40028, 40027, 40002, 40001]);
                assert_eq!(list.messages[0].content, "I have ");
                assert_eq!(list.messages[0].save_type, 4);
                assert_eq!(list.messages[3].content, "Hello");
                // The request the WebUI sent is exactly what the client builds by default.
                assert_eq!(ex.request_body, SmsListRequest::default().to_xml());
                assert!(
                    ex.response_headers
                        .iter()
                        .any(|h| h == "__RequestVerificationToken:3pE0zbFV5DRi9kHyw4TOkEXNaq+EJik1")
                );
            }
            "/api/sms/send-sms" => {
                parse_response::<()>(body).unwrap();
                let ours = send_sms_body(
                    &["0722060322"],
                    "test ............",
                    datetime!(2018-02-13 22:21:30),
                )
                .unwrap();
                // Same elements in the same order; only Length differs (the capture's text is redacted).
                assert_eq!(
                    ours.replace("<Length>17</Length>", "<Length>11</Length>"),
                    ex.request_body
                );
            }
            "/api/sms/send-status" => {
                let s: SendStatus = parse_response(body).unwrap();
                assert!(s.is_done());
                assert_eq!(s.suc_phone, ["0722060322"]);
                assert!(s.fail_phone.is_empty());
                assert_eq!((s.total_count, s.cur_index), (Some(1), Some(1)));
            }
            other => panic!("unexpected path {other}"),
        }
    }
}
