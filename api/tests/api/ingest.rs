//! MQTT ingest without a broker: payloads as an agent publishes them, applied by
//! `mqtt::ingest::handle`, with what to acknowledge.

use serde_json::json;
use smsgw_api::mqtt::ingest::{IngestError, handle};
use smsgw_shared::{
    ids::{EventId, MessageId},
    state::MessageState,
    topic::Topics,
    wire::{ConnState, Presence, StatusEvent, V1, encode},
};
use time::OffsetDateTime;

use crate::helpers::{spawn_app, status_json};

#[tokio::test]
async fn events_are_applied_and_acknowledged_and_junk_is_refused() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let topics = Topics::new("smsgw").expect("topics");
    let (_, sent) = status_json(
        app.send(&key, &json!({"phone": "+33612345678", "content": "hi"}))
            .await,
    )
    .await;
    let id: MessageId = sent["id"].as_str().expect("id").parse().expect("id");

    let event = StatusEvent {
        v: V1,
        event_id: EventId::new(),
        id,
        state: MessageState::Accepted,
        modem: None,
        at: OffsetDateTime::now_utc(),
        attempt: 0,
        error: None,
    };
    let payload = encode(&event);
    let first = handle(&app.db, &topics, "smsgw/main/event/status", &payload)
        .await
        .expect("handled");
    assert_eq!(
        (first.ack, first.outcome),
        (Some(event.event_id), "applied")
    );
    let again = handle(&app.db, &topics, "smsgw/main/event/status", &payload)
        .await
        .expect("handled");
    assert_eq!(
        (again.ack, again.outcome),
        (Some(event.event_id), "duplicate"),
        "acknowledged again"
    );

    let junk = [
        ("smsgw/main/event/status", b"{not json".to_vec()),
        ("smsgw/main/event/status", br#"{"v": 2}"#.to_vec()),
        ("other/main/event/status", payload.clone()),
        ("smsgw/Main!/event/status", payload.clone()),
    ];
    for (topic, bytes) in junk {
        let e = handle(&app.db, &topics, topic, &bytes)
            .await
            .expect_err("refused");
        assert!(
            matches!(e, IngestError::Payload(_) | IngestError::Topic(_)),
            "{e}"
        );
    }
    let command = br#"{"v": 1, "event_ids": []}"#;
    assert!(matches!(
        handle(&app.db, &topics, "smsgw/main/command/ack", command).await,
        Err(IngestError::NotConsumed(_))
    ));
    let r = app
        .get(&key, &format!("/api/v1/messages/{id}"))
        .send()
        .await
        .expect("request");
    assert_eq!(status_json(r).await.1["status"], "accepted");
}

#[tokio::test]
async fn presence_and_modems_update_the_site() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let topics = Topics::new("smsgw").expect("topics");
    let conn = ConnState {
        v: V1,
        state: Presence::Online,
        session: 3,
        agent_version: "0.1.0".into(),
        at: OffsetDateTime::now_utc(),
    };
    let done = handle(&app.db, &topics, "smsgw/main/state/conn", &encode(&conn))
        .await
        .expect("handled");
    assert_eq!((done.ack, done.outcome), (None, "applied"));

    let modems = |session: u64, id: &str| {
        json!({
            "v": 1, "session": session, "at": "2026-11-25T10:00:00Z",
            "modems": [{
                "id": id, "model": "E3372h", "signal": {}, "sim": "ready", "registered": true,
                "circuit": "closed", "queue": 0, "storage": {"used": 0, "max": 100}
            }]
        })
        .to_string()
        .into_bytes()
    };
    let done = handle(
        &app.db,
        &topics,
        "smsgw/main/state/modems",
        &modems(3, "usb0"),
    )
    .await;
    let done = done.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done.outcome, "applied");
    let late = handle(
        &app.db,
        &topics,
        "smsgw/main/state/modems",
        &modems(2, "old0"),
    )
    .await
    .expect("handled");
    assert_eq!(
        late.outcome, "ignored",
        "an older session's state is ignored"
    );

    let r = app
        .get(&key, "/api/v1/sites/main")
        .send()
        .await
        .expect("request");
    let (_, site) = status_json(r).await;
    assert_eq!(site["presence"], "online");
    assert_eq!(site["agent_version"], "0.1.0");
    let modems = site["modems"].as_array().expect("modems");
    assert_eq!(modems.len(), 1);
    assert_eq!(
        (
            modems[0]["id"].as_str(),
            modems[0]["state"]["model"].as_str()
        ),
        (Some("usb0"), Some("E3372h"))
    );
}
