//! Starting on free ports, metrics, and stopping: what the binary does on SIGTERM and what
//! other crates' tests do to simulate a broker restart.

use smsgw_broker::{BrokerConfig, Error, config::ListenerConfig};

use crate::helpers::{
    SECRET, Target, TestClient, http_get, now, secret, spawn_broker, token_with, unique,
};

#[tokio::test]
async fn metrics_count_connections_and_refusals() {
    let broker = spawn_broker().await;
    let target = Target::broker(broker.mqtt_addr.expect("plain listener"));
    let client_id = format!("agent-{}", unique("s"));
    let client = TestClient::connected(target.options(&client_id)).await;
    let mut expired = target.options(&client_id);
    expired.set_credentials(
        client_id.clone(),
        token_with(SECRET, &client_id, "mqtt", now() - 3600),
    );
    assert!(TestClient::connect(expired).await.is_err());

    let metrics_addr = broker.metrics_addr.expect("metrics endpoint");
    // The router registers the connection on its own thread: give it a moment.
    let mut body = String::new();
    for _ in 0..50 {
        body = http_get(metrics_addr, "/metrics").await;
        if body.contains("smsgw_broker_connections_total") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for expected in [
        r#"smsgw_broker_auth_total{result="accepted",kind="agent"}"#,
        r#"smsgw_broker_auth_total{result="refused",reason="expired"}"#,
        "smsgw_broker_connections_total",
        "smsgw_broker_connections ",
        "smsgw_broker_build_info{version=",
    ] {
        assert!(body.contains(expected), "{expected} missing from:\n{body}");
    }
    assert_eq!(http_get(metrics_addr, "/healthz").await, "ok");
    client.disconnect().await;
    broker.shutdown().await;
}

#[tokio::test]
async fn two_brokers_get_their_own_ports() {
    let first = spawn_broker().await;
    let second = spawn_broker().await;
    assert_ne!(first.mqtt_addr, second.mqtt_addr);
    assert_ne!(first.metrics_addr, second.metrics_addr);
    assert_eq!(first.listeners().len(), 2);
    first.shutdown().await;
    second.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_connections_and_frees_the_port() {
    let broker = spawn_broker().await;
    let addr = broker.mqtt_addr.expect("plain listener");
    let target = Target::broker(addr);
    let client_id = format!("agent-{}", unique("s"));
    let mut client = TestClient::connected(target.options(&client_id)).await;

    broker.shutdown().await;
    client.closed().await;

    // Restart on the same port, as a deployment does: the agent gets back in.
    let mut config = BrokerConfig::loopback();
    config.listeners.truncate(1);
    config.listeners[0].listen = addr;
    config.metrics.listen = None;
    let restarted = smsgw_broker::start(config, &secret())
        .await
        .expect("the port is free again");
    assert_eq!(restarted.mqtt_addr, Some(addr));
    assert_eq!(restarted.metrics_addr, None);
    target.assert_connects(&client_id).await;
    restarted.shutdown().await;
}

#[tokio::test]
async fn a_taken_port_fails_the_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address");
    let mut config = BrokerConfig::loopback();
    config.listeners = vec![ListenerConfig {
        name: "busy".into(),
        listen: addr,
        protocol: Default::default(),
        tls: None,
    }];
    let result = smsgw_broker::start(config, &secret()).await;
    assert!(
        matches!(result, Err(Error::Bind { ref listener, .. }) if listener == "busy"),
        "{result:?}"
    );
}
