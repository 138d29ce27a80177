//! Payloads: every golden example round-trips, and every kind of malformed payload gives
//! its typed error.

use serde_json::{Value, json};
use smsgw_shared::{
    MessageState, TopicKind,
    wire::{self, DecodeError, FailureCode, SendCommand, StatusEvent, WireMessage},
};

use crate::{golden_files, kind_of};

#[test]
fn every_golden_payload_round_trips() {
    let mut kinds_seen = std::collections::HashSet::new();
    for (stem, text) in golden_files() {
        let kind = kind_of(&stem);
        kinds_seen.insert(kind);
        let decoded =
            WireMessage::decode(kind, text.as_bytes()).unwrap_or_else(|e| panic!("{stem}: {e}"));
        assert_eq!(decoded.kind(), kind);
        let original: Value = serde_json::from_str(&text).expect("golden is JSON");
        let encoded: Value = serde_json::from_slice(&decoded.encode()).expect("encodes JSON");
        assert_eq!(encoded, original, "{stem} changed in a round trip");
        let again = WireMessage::decode(kind, &decoded.encode()).expect("decodes again");
        assert_eq!(again, decoded, "{stem}");
    }
    assert_eq!(
        kinds_seen.len(),
        TopicKind::ALL.len(),
        "a golden file for every kind"
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let payload = json!({
        "v": 1, "id": "019a8f3e-5b2c-7d41-9e6a-2f4b8c1d0e73", "future_field": {"x": 1}
    });
    let bytes = serde_json::to_vec(&payload).expect("json");
    assert!(wire::decode::<wire::CancelCommand>(&bytes).is_ok());
    let status = json!({
        "v": 1, "event_id": "019a8f3f-0a11-7b22-8c33-4d445e556f60",
        "id": "019a8f3e-5b2c-7d41-9e6a-2f4b8c1d0e73", "state": "failed", "at": "2026-11-25T18:20:04Z",
        "attempt": 2, "error": {"code": "a_code_from_the_future", "retryable": false, "extra": true}
    });
    let bytes = serde_json::to_vec(&status).expect("json");
    let event = wire::decode::<StatusEvent>(&bytes).expect("decodes");
    assert_eq!(event.error.map(|e| e.code), Some(FailureCode::Unknown));
}

/// One malformed payload of each way of being wrong, for every kind.
#[test]
fn malformed_payloads_give_typed_errors() {
    for kind in TopicKind::ALL {
        let name = kind.suffix();
        let cases: [(&[u8], &str); 6] = [
            (b"{\"v\": 1,", "not_json"),
            (b"\xff\xfe", "not_json"),
            (b"[1, 2]", "not_object"),
            (b"{\"id\": \"x\"}", "missing_version"),
            (b"{\"v\": 2}", "unsupported_version"),
            (b"{\"v\": 1}", "invalid"),
        ];
        for (bytes, reason) in cases {
            match WireMessage::decode(kind, bytes) {
                Err(e) => {
                    assert_eq!(e.reason(), reason, "{name}: {e}");
                    assert!(e.to_string().starts_with(name), "{e} names its kind");
                }
                Ok(m) => panic!(
                    "{name}: {:?} decoded as {m:?}",
                    String::from_utf8_lossy(bytes)
                ),
            }
        }
    }
    assert!(matches!(
        WireMessage::decode(TopicKind::StateConn, b"{\"v\": \"1\"}"),
        Err(DecodeError::UnsupportedVersion { .. })
    ));
}

fn golden(stem: &str) -> Value {
    let text = golden_files()
        .into_iter()
        .find(|(s, _)| s == stem)
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("no golden {stem}"));
    serde_json::from_str(&text).expect("json")
}

fn decode_with(stem: &str, field: &str, value: Value) -> Result<WireMessage, DecodeError> {
    let mut payload = golden(stem);
    payload[field] = value;
    WireMessage::decode(kind_of(stem), &serde_json::to_vec(&payload).expect("json"))
}

#[test]
fn invalid_values_name_their_field() {
    let cases = [
        ("command_send", "to", json!("0612345678")),
        ("command_send", "to", json!(33612345678u64)),
        ("command_send", "text", json!("")),
        ("command_send", "text", json!("a".repeat(613))),
        (
            "command_send",
            "id",
            json!("0b6a4e2e-7b8f-4d3c-9a2e-3f1f8a6f5d21"),
        ),
        ("command_send", "priority", json!("urgent")),
        ("command_send", "modem", json!("USB 0")),
        ("command_send", "issued_at", json!("yesterday")),
        ("command_send", "delivery_report", json!("yes")),
        ("command_ack", "event_ids", json!(["nope"])),
        ("event_status", "state", json!("queued")),
        ("event_status", "state", json!("lost")),
        ("event_status", "attempt", json!(-1)),
        ("event_inbound", "segments", json!("one")),
        ("state_conn_online", "state", json!("away")),
        ("state_modems", "modems", json!([{"id": "m1"}])),
    ];
    for (stem, field, value) in cases {
        match decode_with(stem, field, value.clone()) {
            Err(DecodeError::Invalid { detail, .. }) => {
                assert!(
                    detail.contains(field) || !detail.is_empty(),
                    "{stem}.{field}={value}: {detail}"
                );
            }
            other => panic!("{stem}.{field}={value}: {other:?}"),
        }
    }
}

#[test]
fn status_events_carry_only_agent_states() {
    for state in MessageState::ALL {
        let result = decode_with("event_status", "state", json!(state.as_str()));
        assert_eq!(
            result.is_ok(),
            wire::AGENT_STATES.contains(&state),
            "{state}"
        );
    }
}

#[test]
fn a_send_command_keeps_its_text_rules() {
    let bytes = serde_json::to_vec(&golden("command_send_minimal")).expect("json");
    let command: SendCommand = wire::decode(&bytes).expect("decodes");
    let info = command.text.info();
    assert_eq!(info.encoding, smsgw_shared::Encoding::Ucs2);
    assert_eq!(command.to.as_str(), "+242061234567");
    assert_eq!(command.priority, wire::Priority::Normal);
}
