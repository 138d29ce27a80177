//! Behaviour smsgw relies on, written once and run against smsgw-broker and Mosquitto:
//! QoS 1 delivery, retained state, the Last Will and shared subscriptions (DESIGN §3).

use std::collections::BTreeSet;

use rumqttc::{LastWill, QoS};
use smsgw_shared::topic::API_SHARE_GROUP;

use crate::helpers::{QUIET, Target, TestClient, unique};

/// QoS 1 messages reach a subscriber, in order, and every publish is acknowledged.
pub async fn qos1_delivery(target: &Target) {
    let root = unique("t");
    let site = unique("s");
    let topic = format!("{root}/{site}/command/send");
    let mut agent = TestClient::connected(target.options(&format!("agent-{site}"))).await;
    agent.subscribe(&format!("{root}/{site}/command/+")).await;
    let mut api = TestClient::connected(target.options(&unique("api-"))).await;

    for i in 0..10 {
        api.publish(&topic, format!("{{\"v\":1,\"n\":{i}}}").as_bytes(), false)
            .await;
    }
    for i in 0..10 {
        let message = agent.next_publish().await;
        assert_eq!(message.topic, topic, "{}", target.name);
        assert_eq!(message.qos, QoS::AtLeastOnce, "{}", target.name);
        assert_eq!(
            message.payload.as_ref(),
            format!("{{\"v\":1,\"n\":{i}}}").as_bytes(),
            "{}: messages arrive in order",
            target.name
        );
    }
    api.disconnect().await;
    agent.disconnect().await;
}

/// A retained state reaches later subscribers with the retain flag, and an empty
/// retained message removes it.
pub async fn retained_state(target: &Target) {
    let site = unique("s");
    let topic = format!("{}/{site}/state/conn", unique("t"));
    let mut agent = TestClient::connected(target.options(&format!("agent-{site}"))).await;
    agent
        .publish(&topic, br#"{"v":1,"state":"online"}"#, true)
        .await;

    let mut api = target.subscriber(&topic).await;
    let state = api.next_publish().await;
    assert!(
        state.retain,
        "{}: a retained message keeps its flag",
        target.name
    );
    assert_eq!(state.payload.as_ref(), br#"{"v":1,"state":"online"}"#);
    api.disconnect().await;

    agent.publish(&topic, b"", true).await;
    let mut late = target.subscriber(&topic).await;
    assert!(
        late.next_publish_within(QUIET).await.is_none(),
        "{}: an empty retained message clears the state",
        target.name
    );
    late.disconnect().await;
    agent.disconnect().await;
}

/// An agent that vanishes without DISCONNECT has its Will published (retained, as the
/// agent's `state/conn` Will is).
pub async fn last_will(target: &Target) {
    let site = unique("s");
    let topic = format!("{}/{site}/state/conn", unique("t"));
    let mut watcher = target.subscriber(&topic).await;

    let mut options = target.options(&format!("agent-{site}"));
    options.set_last_will(LastWill::new(
        &topic,
        br#"{"v":1,"state":"offline"}"#.to_vec(),
        QoS::AtLeastOnce,
        true,
    ));
    let agent = TestClient::connected(options).await;
    agent.kill();

    let will = watcher.next_publish().await;
    assert_eq!(will.topic, topic, "{}", target.name);
    assert_eq!(will.payload.as_ref(), br#"{"v":1,"state":"offline"}"#);
    watcher.disconnect().await;

    // The Will was retained: a later subscriber sees it, then the agent cleans up (its
    // state is its own to clear).
    let mut late = target.subscriber(&topic).await;
    let retained = late.next_publish().await;
    assert!(retained.retain, "{}: the Will is retained", target.name);
    late.disconnect().await;
    let mut agent = TestClient::connected(target.options(&format!("agent-{site}"))).await;
    agent.publish(&topic, b"", true).await;
    agent.disconnect().await;
}

/// `$share/smsgw-api/…` splits messages between the members of the API's group: each
/// message reaches exactly one member.
pub async fn shared_subscription(target: &Target) {
    let root = unique("t");
    let filter = format!("$share/{API_SHARE_GROUP}/{root}/+/event/#");
    let mut first = target.subscriber(&filter).await;
    let mut second = target.subscriber(&filter).await;

    let site = unique("s");
    let mut agent = TestClient::connected(target.options(&format!("agent-{site}"))).await;
    let total = 10;
    for i in 0..total {
        agent
            .publish(
                &format!("{root}/{site}/event/status"),
                format!("{i}").as_bytes(),
                false,
            )
            .await;
    }

    let mut seen = BTreeSet::new();
    let mut per_member = [0; 2];
    while seen.len() < total {
        let (member, message) = tokio::select! {
            m = first.next_publish() => (0, m),
            m = second.next_publish() => (1, m),
        };
        let n: usize = std::str::from_utf8(&message.payload)
            .ok()
            .and_then(|s| s.parse().ok())
            .expect("a number");
        assert!(
            seen.insert(n),
            "{}: message {n} delivered twice",
            target.name
        );
        per_member[member] += 1;
    }
    assert!(
        first.next_publish_within(QUIET).await.is_none()
            && second.next_publish_within(QUIET).await.is_none(),
        "{}: no message reaches both members",
        target.name
    );
    assert!(
        per_member.iter().all(|&n| n > 0),
        "{}: both members get a share: {per_member:?}",
        target.name
    );
    for client in [first, second, agent] {
        client.disconnect().await;
    }
}
