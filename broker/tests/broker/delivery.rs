//! The delivery checks of [`crate::checks`] through smsgw-broker.

use crate::{
    checks,
    helpers::{Target, spawn_broker},
};

/// Runs `check` against a fresh broker's plain MQTT 3.1.1 listener.
async fn through_broker(check: impl AsyncFnOnce(&Target)) {
    let broker = spawn_broker().await;
    check(&Target::broker(broker.mqtt_addr.expect("plain listener"))).await;
    broker.shutdown().await;
}

#[tokio::test]
async fn qos1_delivery() {
    through_broker(checks::qos1_delivery).await;
}

#[tokio::test]
async fn retained_state() {
    through_broker(checks::retained_state).await;
}

#[tokio::test]
async fn last_will() {
    through_broker(checks::last_will).await;
}

#[tokio::test]
async fn shared_subscription() {
    through_broker(checks::shared_subscription).await;
}
