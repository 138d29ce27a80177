//! Where messages go: the modems of a site share the load, and each message reaches the
//! site it names, else its key's default site.

use std::{collections::HashMap, time::Duration};

use hilink::sim::Timings;
use serde_json::json;
use smsgw_e2e::{SiteSpec, Stack};
use smsgw_shared::MessageState;

use crate::{WAIT, start};

/// Messages for a site with two modems go out through both, each exactly once, and the
/// API names the modem that sent each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_modems_at_one_site_share_the_load() {
    // Sends that take a while: a busy modem leaves the next message to the other one.
    let timings = Timings {
        send_duration: Duration::from_millis(300),
        ..Timings::fast()
    };
    let stack = start(
        Stack::builder()
            .site(SiteSpec::new("main", 2))
            .sim_timings(timings),
    )
    .await;
    let api = stack.api();

    let mut ids = Vec::new();
    for i in 0..12 {
        let (id, _) = api
            .create(&json!({"phone": "+33612345678", "content": format!("shared {i}")}))
            .await
            .expect("201 Created");
        ids.push((format!("shared {i}"), id));
    }
    let mut modem_of = HashMap::new();
    for (text, id) in &ids {
        let sent = api
            .wait_state(id, &[MessageState::Sent], WAIT)
            .await
            .expect("sent");
        modem_of.insert(
            text.clone(),
            sent["modem"].as_str().unwrap_or("").to_owned(),
        );
    }

    let ledgers = stack.site_ledgers("main").await.expect("ledgers");
    for (i, ledger) in ledgers.iter().enumerate() {
        assert!(!ledger.is_empty(), "modem m{i} sent nothing: {ledgers:?}");
        for entry in ledger {
            assert_eq!(
                modem_of.get(&entry.text).map(String::as_str),
                Some(format!("m{i}").as_str()),
                "the API names the modem that sent {:?}",
                entry.text
            );
        }
    }
    let mut texts: Vec<&str> = ledgers.iter().flatten().map(|e| e.text.as_str()).collect();
    texts.sort_unstable();
    let mut expected: Vec<&str> = ids.iter().map(|(t, _)| t.as_str()).collect();
    expected.sort_unstable();
    assert_eq!(texts, expected, "every message exactly once");
}

/// Two sites: a message goes to the site it names, else to its key's default site, and
/// only that site's modem sends it; an unknown site is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_message_reaches_its_site() {
    let stack = start(
        Stack::builder()
            .site(SiteSpec::new("north", 1))
            .site(SiteSpec::new("south", 1)),
    )
    .await;
    let south_key = stack
        .create_key("south-office", Some("south"))
        .await
        .expect("key");
    let api = stack.api_with(&south_key);

    let cases = [
        (
            json!({"phone": "+33612345678", "content": "default site"}),
            "south",
        ),
        (
            json!({"phone": "+33612345678", "content": "named north", "site": "north"}),
            "north",
        ),
        (
            json!({"phone": "+33612345678", "content": "named south", "site": "south"}),
            "south",
        ),
    ];
    for (body, site) in &cases {
        let (id, created) = api.create(body).await.expect("201 Created");
        assert_eq!(created["site"], *site, "{created}");
        api.wait_state(&id, &[MessageState::Sent], WAIT)
            .await
            .expect("sent");
    }

    for (site, expected) in [
        ("north", vec!["named north"]),
        ("south", vec!["default site", "named south"]),
    ] {
        let ledgers = stack.site_ledgers(site).await.expect("ledger");
        let texts: Vec<&str> = ledgers.iter().flatten().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, expected, "sent at {site}");
    }

    let unknown = api
        .send(&json!({"phone": "+33612345678", "content": "nowhere", "site": "west"}))
        .await
        .expect("request");
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert_eq!(unknown.body["field"], "site", "{}", unknown.body);
}
