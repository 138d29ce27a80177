//! The paths of one message through the whole gateway.

use serde_json::json;
use smsgw_e2e::api::id_of;
use smsgw_shared::MessageState;

use crate::{WAIT, one_site};

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
