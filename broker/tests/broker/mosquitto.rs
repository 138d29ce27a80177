//! The delivery checks of [`crate::checks`] through Mosquitto on 127.0.0.1:1883 (no
//! authentication there): the API and the agent must work with any MQTT 3.1.1 broker.
//! Without a Mosquitto the checks are skipped with a notice, except in CI
//! (`CI=true`), where they fail. `SMSGW_TEST_MOSQUITTO=host:port` points elsewhere.

use std::{io::Write, net::SocketAddr, time::Duration};

use crate::{checks, helpers::Target};

const MOSQUITTO: &str = "127.0.0.1:1883";

/// The Mosquitto target, or `None` (with a notice) when none listens outside CI.
async fn mosquitto(check: &str) -> Option<Target> {
    let address = std::env::var("SMSGW_TEST_MOSQUITTO").unwrap_or_else(|_| MOSQUITTO.into());
    let addr: SocketAddr = address
        .parse()
        .unwrap_or_else(|_| panic!("SMSGW_TEST_MOSQUITTO={address:?} is not host:port"));
    let reachable =
        tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr))
            .await
            .is_ok_and(|connected| connected.is_ok());
    if reachable {
        return Some(Target {
            name: "mosquitto",
            host: addr.ip().to_string(),
            port: addr.port(),
            auth: false,
            tls_ca: None,
        });
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true and no Mosquitto listens on {addr}: the Mosquitto checks must run");
    }
    // Straight to stderr: libtest captures eprintln! of passing tests, and a skip must show.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED Mosquitto check `{check}`: nothing listens on {addr} \
         (start mosquitto to run it; with CI=true this fails)"
    );
    None
}

/// Runs `check` against Mosquitto, when there is one.
async fn through_mosquitto(name: &str, check: impl AsyncFnOnce(&Target)) {
    if let Some(target) = mosquitto(name).await {
        check(&target).await;
    }
}

#[tokio::test]
async fn qos1_delivery() {
    through_mosquitto("qos1_delivery", checks::qos1_delivery).await;
}

#[tokio::test]
async fn retained_state() {
    through_mosquitto("retained_state", checks::retained_state).await;
}

#[tokio::test]
async fn last_will() {
    through_mosquitto("last_will", checks::last_will).await;
}

#[tokio::test]
async fn shared_subscription() {
    through_mosquitto("shared_subscription", checks::shared_subscription).await;
}
