//! The paths of one message through the whole gateway: out and delivered, in, canceled,
//! expired.

use serde_json::json;
use smsgw_e2e::{
    SiteSpec, Stack,
    api::{id_of, state_of},
    eventually,
};
use smsgw_shared::{MessageState, can_advance};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::{WAIT, one_site, start};

/// The request of the original gateway (`phone`, `content`, `X-API-Key`) works unchanged:
/// the SMS reaches the network exactly once and the API says `sent`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_style_request_is_sent() {
    let stack = one_site().await;
    let api = stack.api();

    let answer = api
        .send(&json!({"phone": "+33 6 12 34 56 78", "content": "Hello from the seed"}))
        .await
        .expect("request");
    let created = answer.expect_status(201).expect("201 Created");
    assert_eq!(created["phone"], "+33612345678", "{created}");
    assert_eq!(created["content"], "Hello from the seed", "{created}");
    assert_eq!(created["status"], "queued", "{created}");
    assert_eq!(created["site"], "main", "{created}");
    let id = id_of(&created).expect("id");

    let sent = api
        .wait_state(&id, &[MessageState::Sent], WAIT)
        .await
        .expect("sent");
    assert_eq!(sent["modem"], "m0", "{sent}");
    let ledger = stack.ledger().await.expect("ledger");
    let copies: Vec<_> = ledger
        .iter()
        .filter(|e| e.text == "Hello from the seed")
        .collect();
    assert_eq!(copies.len(), 1, "exactly once on the network: {ledger:?}");
    assert_eq!(copies[0].to, "+33612345678");
}

/// With a delivery report asked for, the network's report makes the message `delivered`,
/// and its history shows every step once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_report_makes_it_delivered() {
    let stack = one_site().await;
    let api = stack.api();

    let (id, _) = api
        .create(&json!({"to": "+33612345679", "text": "Report back", "delivery_report": true}))
        .await
        .expect("201 Created");

    let delivered = api
        .wait_state(&id, &[MessageState::Delivered], WAIT)
        .await
        .expect("delivered");
    // Every step is recorded once. Events may arrive out of order (a late `accepted`
    // after `sending` is kept but not applied); what is applied only moves forward.
    let history = delivered["history"].as_array().expect("history");
    let state = |e: &serde_json::Value| -> MessageState {
        e["state"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("a state")
    };
    let mut recorded: Vec<MessageState> = history.iter().map(state).collect();
    recorded.sort_by_key(|s| MessageState::ALL.iter().position(|a| a == s));
    use MessageState::*;
    assert_eq!(
        recorded,
        [Queued, Dispatched, Accepted, Sending, Sent, Delivered],
        "{delivered}"
    );
    let applied: Vec<MessageState> = history
        .iter()
        .filter(|e| e["applied"] == true)
        .map(state)
        .collect();
    assert!(
        applied.windows(2).all(|w| can_advance(w[0], w[1])),
        "{delivered}"
    );
    assert_eq!(applied.last(), Some(&Delivered), "{delivered}");
    let ledger = stack.ledger().await.expect("ledger");
    assert_eq!(
        ledger.iter().filter(|e| e.text == "Report back").count(),
        1,
        "{ledger:?}"
    );
}

/// An SMS that arrives at a modem shows in the API as an inbound message, `received`,
/// with its sender in E.164, its site and modem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_sms_shows_in_the_api() {
    let stack = one_site().await;
    let api = stack.api();

    stack
        .sim("main", 0)
        .expect("modem")
        .inject_inbound("+33698765432", "Hello gateway, ça va ?")
        .await
        .expect("inject");

    let received = eventually(WAIT, "the inbound SMS in the API", || async {
        let page = api
            .list("direction=inbound")
            .await
            .map_err(|e| e.to_string())?;
        page.body["messages"]
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|m| m["content"] == "Hello gateway, ça va ?")
                    .cloned()
            })
            .ok_or_else(|| format!("HTTP {}: {}", page.status, page.body))
    })
    .await
    .expect("received");
    assert_eq!(received["status"], "received", "{received}");
    assert_eq!(received["direction"], "incoming", "{received}");
    assert_eq!(received["phone"], "+33698765432", "{received}");
    assert_eq!(received["site"], "main", "{received}");
    assert_eq!(received["modem"], "m0", "{received}");
    // Stored once, however often the agent had to publish it.
    let all = api.list_all("direction=inbound").await.expect("list");
    assert_eq!(all.len(), 1, "{all:?}");
}

/// A message the agent holds but has not sent yet (its modem's budget makes it wait) is
/// canceled through the agent (202, then `canceled`) and never reaches the network; a
/// message already sent cannot be canceled (409).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_waiting_at_the_agent_is_canceled() {
    // One send a minute: the second message waits at the agent for a minute.
    let stack = start(Stack::builder().site(SiteSpec::new("main", 1).budget(60_000, 60_000))).await;
    let api = stack.api();
    let send = |text: &'static str| {
        let api = api.clone();
        async move {
            let (id, _) = api
                .create(&json!({"phone": "+33612345678", "content": text}))
                .await
                .expect("201 Created");
            id
        }
    };

    let first = send("goes out").await;
    api.wait_state(&first, &[MessageState::Sent], WAIT)
        .await
        .expect("the first is sent");
    let second = send("waits, then is canceled").await;
    api.wait_state(&second, &[MessageState::Accepted], WAIT)
        .await
        .expect("the agent holds the second");

    let answer = api.cancel(&second).await.expect("cancel");
    assert_eq!(answer.status, 202, "{}", answer.body);
    let canceled = api
        .wait_state(&second, &[MessageState::Canceled], WAIT)
        .await
        .expect("canceled by the agent");
    let history = canceled["history"].as_array().expect("history");
    assert!(
        history.iter().any(|e| e["state"] == "cancel_requested"),
        "{canceled}"
    );

    let too_late = api.cancel(&first).await.expect("cancel");
    assert_eq!(too_late.status, 409, "{}", too_late.body);
    assert_eq!(
        state_of(&api.message(&first).await.expect("get").body).expect("state"),
        MessageState::Sent
    );
    let ledger = stack.ledger().await.expect("ledger");
    let texts: Vec<&str> = ledger.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts, ["goes out"], "only the first reached the network");
}

/// A message whose `expires_at` passes while its site is offline is never sent: it ends
/// `expired` (the agent refuses it when the command comes too late).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_expires_while_its_site_is_offline_is_never_sent() {
    let mut stack = one_site().await;
    let api = stack.api();
    stack.stop_agent("main").await.expect("stop the agent");
    api.wait_presence("main", "offline", WAIT)
        .await
        .expect("offline");

    // Whole seconds: the API keeps microseconds and answers the instant in its own words.
    let expires_at = (OffsetDateTime::now_utc() + time::Duration::seconds(3))
        .replace_nanosecond(0)
        .expect("whole second")
        .format(&Rfc3339)
        .expect("format");
    let (id, created) = api
        .create(&json!({"phone": "+33612345678", "content": "too late", "expires_at": expires_at}))
        .await
        .expect("201 Created");
    assert_eq!(created["expires_at"], expires_at.as_str(), "{created}");
    // Sent with it, in the same batch, but without expiry: the control group.
    let (control, _) = api
        .create(&json!({"phone": "+33612345678", "content": "in time"}))
        .await
        .expect("201 Created");

    eventually(WAIT, "expires_at to pass", || async {
        if OffsetDateTime::now_utc() > OffsetDateTime::parse(&expires_at, &Rfc3339).expect("parse")
        {
            Ok(())
        } else {
            Err("not yet")
        }
    })
    .await
    .expect("time passes");
    stack.start_agent("main").expect("start the agent");

    api.wait_state(&id, &[MessageState::Expired], WAIT)
        .await
        .expect("expired");
    api.wait_state(&control, &[MessageState::Sent], WAIT)
        .await
        .expect("the other one is sent");
    let ledger = stack.ledger().await.expect("ledger");
    let texts: Vec<&str> = ledger.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts, ["in time"]);
}
