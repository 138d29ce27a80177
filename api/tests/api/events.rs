//! Applying agent reports (the store side of MQTT ingest): duplicate and out-of-order
//! events change nothing, inbound SMS are stored once, late Wills are ignored.

use serde_json::json;
use smsgw_api::store::events::{
    InboundOutcome, StatusOutcome, apply_presence, apply_status, store_inbound,
};
use smsgw_shared::{
    ids::{EventId, MessageId, SiteId},
    state::MessageState,
    wire::{ConnState, Failure, FailureCode, InboundEvent, Presence, StatusEvent, V1},
};
use time::OffsetDateTime;

use crate::helpers::{TestApp, spawn_app, status_json};

fn status(id: MessageId, state: MessageState) -> StatusEvent {
    StatusEvent {
        v: V1,
        event_id: EventId::new(),
        id,
        state,
        modem: Some("usb0".parse().expect("modem")),
        at: OffsetDateTime::now_utc(),
        attempt: 1,
        error: None,
    }
}

async fn queued_message(app: &TestApp, key: &str) -> MessageId {
    let (code, body) = status_json(
        app.send(key, &json!({"phone": "+33612345678", "content": "hi"}))
            .await,
    )
    .await;
    assert_eq!(code, 201);
    body["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("message id")
}

async fn apply(app: &TestApp, site: &str, event: &StatusEvent) -> StatusOutcome {
    let site: SiteId = site.parse().expect("site");
    let mut conn = app.db.acquire().await.expect("connection");
    apply_status(&mut conn, &site, event).await.expect("apply")
}

async fn message(app: &TestApp, key: &str, id: MessageId) -> serde_json::Value {
    let r = app
        .get(key, &format!("/api/v1/messages/{id}"))
        .send()
        .await
        .expect("request");
    status_json(r).await.1
}

#[tokio::test]
async fn statuses_apply_forward_only_and_once() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let id = queued_message(&app, &key).await;

    let accepted = status(id, MessageState::Accepted);
    assert_eq!(apply(&app, "main", &accepted).await, StatusOutcome::Applied);
    assert_eq!(
        apply(&app, "main", &accepted).await,
        StatusOutcome::Duplicate
    );
    let m = message(&app, &key, id).await;
    assert_eq!(
        (m["status"].as_str(), m["modem"].as_str()),
        (Some("accepted"), Some("usb0"))
    );
    let due: Option<OffsetDateTime> =
        sqlx::query_scalar("SELECT next_dispatch_at FROM messages WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_one(&app.db)
            .await
            .expect("row");
    assert_eq!(due, None, "an accepted message is not re-dispatched");

    // `sent` overtakes `sending`: the late `sending` is recorded but changes nothing.
    assert_eq!(
        apply(&app, "main", &status(id, MessageState::Sent)).await,
        StatusOutcome::Applied
    );
    assert_eq!(
        apply(&app, "main", &status(id, MessageState::Sending)).await,
        StatusOutcome::Stale
    );
    assert_eq!(
        apply(&app, "main", &status(id, MessageState::Canceled)).await,
        StatusOutcome::Stale
    );
    assert_eq!(
        apply(&app, "main", &status(id, MessageState::Delivered)).await,
        StatusOutcome::Applied
    );
    assert_eq!(
        apply(&app, "main", &status(id, MessageState::Failed)).await,
        StatusOutcome::Stale
    );

    let m = message(&app, &key, id).await;
    assert_eq!(m["status"], "delivered");
    assert!(m["timestamps"]["sent"].is_string() && m["timestamps"]["delivered"].is_string());
    assert!(m["timestamps"].get("sending").is_none());
    let history: Vec<(String, bool)> = m["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|e| {
            (
                e["state"].as_str().expect("state").to_owned(),
                e["applied"] == true,
            )
        })
        .collect();
    assert_eq!(history.len(), 7, "{history:?}");
    assert_eq!(
        history.iter().filter(|(_, applied)| *applied).count(),
        4,
        "{history:?}"
    );
}

#[tokio::test]
async fn failures_keep_their_reason_and_foreign_events_are_ignored() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    app.create_site("other").await;
    let id = queued_message(&app, &key).await;

    assert_eq!(
        apply(&app, "other", &status(id, MessageState::Accepted)).await,
        StatusOutcome::Ignored
    );
    let unknown = MessageId::new();
    assert_eq!(
        apply(&app, "main", &status(unknown, MessageState::Accepted)).await,
        StatusOutcome::Ignored
    );

    let mut failed = status(id, MessageState::Failed);
    failed.error = Some(Failure {
        code: FailureCode::NetworkRejected,
        modem_code: Some(113004),
        retryable: false,
        detail: Some("FailPhone".into()),
    });
    assert_eq!(apply(&app, "main", &failed).await, StatusOutcome::Applied);
    let m = message(&app, &key, id).await;
    assert_eq!(m["status"], "failed");
    assert_eq!(
        m["error"],
        json!({"code": "network_rejected", "detail": "FailPhone"})
    );
    assert_eq!(m["history"][1]["error_code"], "network_rejected");
}

#[tokio::test]
async fn inbound_sms_are_stored_once_per_event() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let site: SiteId = "main".parse().expect("site");
    let mut event = InboundEvent {
        v: V1,
        event_id: EventId::new(),
        from: "+33 6 12 34 56 78".into(),
        text: "Bonjour 👋".into(),
        modem: "usb0".parse().expect("modem"),
        received_at: OffsetDateTime::now_utc(),
        segments: 1,
    };
    let mut conn = app.db.acquire().await.expect("connection");
    let InboundOutcome::Stored(id) = store_inbound(&mut conn, &site, &event)
        .await
        .expect("store")
    else {
        panic!("stored")
    };
    assert_eq!(
        store_inbound(&mut conn, &site, &event)
            .await
            .expect("store"),
        InboundOutcome::Duplicate
    );
    event.event_id = EventId::new();
    event.from = "BANK".into();
    assert!(matches!(
        store_inbound(&mut conn, &site, &event)
            .await
            .expect("store"),
        InboundOutcome::Stored(_)
    ));

    let r = app
        .get(
            &key,
            "/api/v1/messages?direction=inbound&phone=%2B33612345678",
        )
        .send()
        .await
        .expect("request");
    let (_, page) = status_json(r).await;
    assert_eq!(page["messages"].as_array().expect("messages").len(), 1);
    let m = &page["messages"][0];
    assert_eq!(
        (m["id"].as_str(), m["status"].as_str()),
        (Some(id.to_string().as_str()), Some("received"))
    );
    assert_eq!(
        (m["encoding"].as_str(), m["content"].as_str()),
        (Some("ucs2"), Some("Bonjour 👋"))
    );
    assert_eq!(app.message_count().await, 2);
}

#[tokio::test]
async fn a_late_will_of_an_older_session_does_not_mark_a_newer_one_offline() {
    let app = spawn_app().await;
    app.create_site("main").await;
    let site: SiteId = "main".parse().expect("site");
    let conn_state = |state, session| ConnState {
        v: V1,
        state,
        session,
        agent_version: "0.1.0".into(),
        at: OffsetDateTime::now_utc(),
    };
    let mut conn = app.db.acquire().await.expect("connection");
    assert!(
        apply_presence(&mut conn, &site, &conn_state(Presence::Online, 2))
            .await
            .expect("apply")
    );
    assert!(
        !apply_presence(&mut conn, &site, &conn_state(Presence::Offline, 1))
            .await
            .expect("apply")
    );
    let presence: String = sqlx::query_scalar("SELECT presence FROM sites")
        .fetch_one(&mut *conn)
        .await
        .expect("row");
    assert_eq!(presence, "online");
    assert!(
        apply_presence(&mut conn, &site, &conn_state(Presence::Offline, 2))
            .await
            .expect("apply")
    );
    let presence: String = sqlx::query_scalar("SELECT presence FROM sites")
        .fetch_one(&mut *conn)
        .await
        .expect("row");
    assert_eq!(presence, "offline");
    let unknown: SiteId = "nowhere".parse().expect("site");
    assert!(
        !apply_presence(&mut conn, &unknown, &conn_state(Presence::Online, 9))
            .await
            .expect("apply")
    );
}
