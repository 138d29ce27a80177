//! A branch that goes away: its messages wait, and leave when it returns.

use std::time::Duration;

use serde_json::json;
use smsgw_e2e::{api::state_of, eventually};
use smsgw_shared::MessageState;
use tokio::time::Instant;

use crate::{WAIT, one_site};

/// While its agent is down (killed: the broker publishes its Last Will), a site's
/// messages stay `queued` and nothing is sent; one of them is canceled at once (it never
/// left the API). When the agent returns, the others are sent, each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_site_keeps_its_messages_queued_until_it_returns() {
    let mut stack = one_site().await;
    let api = stack.api();
    stack.kill_agent("main").expect("kill the agent");
    api.wait_presence("main", "offline", WAIT)
        .await
        .expect("the Will marks the site offline");

    let mut ids = Vec::new();
    for i in 0..4 {
        let (id, _) = api
            .create(&json!({"phone": "+33612345678", "content": format!("waiting {i}")}))
            .await
            .expect("201 Created");
        ids.push(id);
    }
    let canceled = api.cancel(&ids[3]).await.expect("cancel");
    assert_eq!(canceled.status, 200, "{}", canceled.body);
    assert_eq!(canceled.body["status"], "canceled", "{}", canceled.body);

    // The dispatcher looks at the queue every second: after several looks, still queued.
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(4) {
        for id in &ids[..3] {
            let message = api.message(id).await.expect("get").body;
            assert_eq!(
                state_of(&message).expect("state"),
                MessageState::Queued,
                "{message}"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(stack.ledger().await.expect("ledger").is_empty());

    stack.start_agent("main").expect("start the agent");
    for id in &ids[..3] {
        api.wait_state(id, &[MessageState::Sent], WAIT)
            .await
            .expect("sent once the site is back");
    }
    let ledger = eventually(WAIT, "three SMS on the network", || async {
        let ledger = stack.ledger().await.map_err(|e| e.to_string())?;
        if ledger.len() >= 3 {
            Ok(ledger)
        } else {
            Err(format!("{} so far", ledger.len()))
        }
    })
    .await
    .expect("ledger");
    let mut texts: Vec<&str> = ledger.iter().map(|e| e.text.as_str()).collect();
    texts.sort_unstable();
    assert_eq!(texts, ["waiting 0", "waiting 1", "waiting 2"]);
    assert_eq!(
        state_of(&api.message(&ids[3]).await.expect("get").body).expect("state"),
        MessageState::Canceled
    );
}
