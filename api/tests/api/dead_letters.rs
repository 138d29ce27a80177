//! No poison event loops, through the real brokers and the agent-side protocol: an
//! inbound SMS whose sender the database used to refuse (empty, overlong) is stored, and
//! an event the database refuses for good (text holding NUL) or that does not decode is
//! kept as a dead letter; either way the agent's event is confirmed before its ack
//! timeout, so it leaves the outbox and is never published again.

use std::time::Duration;

use serde_json::{Value, json};
use smsgw_shared::{
    ids::EventId,
    topic::TopicKind,
    wire::{self, InboundEvent, V1},
};
use time::OffsetDateTime;

use crate::{
    helpers::{TestApp, status_json},
    mqtt::{Agent, Broker, WAIT, setup},
};

/// The agent's ack timeout (`ack_timeout_ms`): an event not confirmed within it is
/// published again.
const ACK_TIMEOUT: Duration = Duration::from_secs(3);

/// Publishes an event the way the agent's outbox does: again after every ack timeout
/// until `command/ack` confirms it. Returns how many times it was published.
async fn through_the_outbox(
    agent: &mut Agent,
    kind: TopicKind,
    event: EventId,
    payload: Vec<u8>,
) -> u32 {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut published = 0;
    loop {
        agent.publish(kind, payload.clone()).await;
        published += 1;
        if tokio::time::timeout(ACK_TIMEOUT, agent.confirmed(event))
            .await
            .is_ok()
        {
            return published;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{event} never confirmed"
        );
    }
}

fn inbound(from: &str, text: &str) -> InboundEvent {
    InboundEvent {
        v: V1,
        event_id: EventId::new(),
        from: from.to_owned(),
        text: text.to_owned(),
        modem: "usb0".parse().expect("modem"),
        received_at: OffsetDateTime::now_utc(),
        segments: 1,
    }
}

async fn inbound_row(app: &TestApp, event: EventId) -> Option<(String, Option<String>, String)> {
    sqlx::query_as("SELECT phone, sender_raw, content FROM messages WHERE event_id = $1")
        .bind(event.as_uuid())
        .fetch_optional(&app.db)
        .await
        .expect("message")
}

async fn dead_letter_rows(app: &TestApp, event: EventId) -> Vec<(String, String)> {
    sqlx::query_as("SELECT kind, reason FROM dead_letters WHERE event_id = $1")
        .bind(event.as_uuid())
        .fetch_all(&app.db)
        .await
        .expect("dead letters")
}

#[tokio::test]
async fn events_that_cannot_be_applied_are_stored_or_dead_lettered_and_confirmed_once() {
    for broker in Broker::all().await {
        let (app, _key, mut agent) = setup(&broker).await;
        agent.online().await;

        // Senders the database used to refuse (empty, over 64 characters): stored.
        let long_sender = "9".repeat(300);
        for from in ["", long_sender.as_str()] {
            let event = inbound(from, "hello");
            let published = through_the_outbox(
                &mut agent,
                TopicKind::EventInbound,
                event.event_id,
                wire::encode(&event),
            )
            .await;
            assert_eq!(
                published, 1,
                "{:?}: confirmed before the ack timeout",
                broker.kind
            );
            let (phone, raw, content) = inbound_row(&app, event.event_id).await.expect("stored");
            assert_eq!(content, "hello");
            if from.is_empty() {
                assert_eq!((phone.as_str(), raw), ("", None));
            } else {
                assert_eq!(phone, "9".repeat(64));
                assert_eq!(raw.as_deref(), Some(from), "the sender kept as it came");
            }
        }

        // Text the database refuses for good (NUL): a dead letter, confirmed, once.
        let poison = inbound("+33612345678", "bad \u{0} text");
        let payload = wire::encode(&poison);
        let published = through_the_outbox(
            &mut agent,
            TopicKind::EventInbound,
            poison.event_id,
            payload.clone(),
        )
        .await;
        assert_eq!(published, 1, "{:?}", broker.kind);
        assert!(inbound_row(&app, poison.event_id).await.is_none());
        let letters = dead_letter_rows(&app, poison.event_id).await;
        assert_eq!(letters.len(), 1, "{letters:?}");
        assert_eq!(letters[0].0, "event/inbound");
        assert!(letters[0].1.contains("0x00"), "{letters:?}");
        // Published again (the agent had not got the ack yet): confirmed again, kept once.
        assert_eq!(
            through_the_outbox(
                &mut agent,
                TopicKind::EventInbound,
                poison.event_id,
                payload
            )
            .await,
            1
        );
        assert_eq!(dead_letter_rows(&app, poison.event_id).await.len(), 1);

        // An event that does not decode but names its event id: kept and confirmed too.
        let odd = EventId::new();
        let odd_payload = json!({"v": 1, "event_id": odd, "id": "nonsense", "state": "exploded"});
        let published = through_the_outbox(
            &mut agent,
            TopicKind::EventStatus,
            odd,
            serde_json::to_vec(&odd_payload).expect("json"),
        )
        .await;
        assert_eq!(published, 1);
        assert_eq!(dead_letter_rows(&app, odd).await.len(), 1);

        // Counted, and listed for administrators with the raw payload.
        let metrics = app.metrics_text().await;
        for cause in ["refused", "payload"] {
            assert!(
                metrics
                    .lines()
                    .any(|l| l.starts_with("smsgw_dead_letters_total{")
                        && l.contains(&format!("cause=\"{cause}\""))),
                "{cause}: {metrics}"
            );
        }
        let token = app.admin_token().await;
        let r = app
            .client
            .get(format!("{}/api/v1/admin/dead-letters?limit=1", app.address))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list");
        let (status, page) = status_json(r).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(
            page["dead_letters"][0]["event_id"],
            Value::from(odd.to_string())
        );
        assert_eq!(page["dead_letters"][0]["payload"], odd_payload);
        let before = page["next_before"].as_i64().expect("a next page");
        let r = app
            .client
            .get(format!(
                "{}/api/v1/admin/dead-letters?before={before}",
                app.address
            ))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list");
        let (_, page) = status_json(r).await;
        let letter = &page["dead_letters"][0];
        assert_eq!(letter["event_id"], Value::from(poison.event_id.to_string()));
        assert_eq!(letter["payload"]["text"], "bad \u{0} text");
        assert_eq!(letter["site"], "main");
        assert!(page["next_before"].is_null(), "{page}");
        broker.stop().await;
    }
}
