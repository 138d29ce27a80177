//! Who gets in: a site or API token bound to its client id, and nothing else.

use rumqttc::{ConnectReturnCode, ConnectionError};

use crate::helpers::{SECRET, Target, TestClient, now, spawn_broker, token, token_with, unique};

#[tokio::test]
async fn a_valid_site_token_connects() {
    let broker = spawn_broker().await;
    let target = Target::broker(broker.mqtt_addr.expect("plain listener"));
    target
        .assert_connects(&format!("agent-{}", unique("s")))
        .await;
    target.assert_connects(&unique("api-")).await;
    broker.shutdown().await;
}

#[tokio::test]
async fn bad_credentials_are_refused() {
    let broker = spawn_broker().await;
    let target = Target::broker(broker.mqtt_addr.expect("plain listener"));
    let client_id = format!("agent-{}", unique("s"));
    let later = now() + 3600;
    // (case, client id, password, the CONNACK code).
    let bad = ConnectReturnCode::BadUserNamePassword;
    let cases = [
        (
            "expired",
            client_id.clone(),
            Some(token_with(SECRET, &client_id, "mqtt", now() - 3600)),
            bad,
        ),
        (
            "wrong signature",
            client_id.clone(),
            Some(token_with(
                "another-deployment-key-0123456789",
                &client_id,
                "mqtt",
                later,
            )),
            bad,
        ),
        (
            "wrong audience (admin session)",
            client_id.clone(),
            Some(token_with(SECRET, &client_id, "admin", later)),
            bad,
        ),
        (
            "token of another site",
            format!("agent-{}", unique("other")),
            Some(token(&client_id)),
            bad,
        ),
        (
            "client id of no agent or replica",
            "lyon".to_owned(),
            Some(token("lyon")),
            ConnectReturnCode::BadClientId,
        ),
        (
            "not a JWT",
            client_id.clone(),
            Some("hunter2".to_owned()),
            bad,
        ),
        ("missing credentials", client_id.clone(), None, bad),
    ];
    for (case, client_id, password, code) in cases {
        let mut options = rumqttc::MqttOptions::new(&client_id, &target.host, target.port);
        if let Some(password) = password {
            options.set_credentials(client_id.clone(), password);
        }
        match TestClient::connect(options).await {
            Ok(_) => panic!("{case}: the connection should be refused"),
            // The front answers with a CONNACK that says why.
            Err(ConnectionError::ConnectionRefused(refused)) => {
                assert_eq!(refused, code, "{case}")
            }
            Err(other) => panic!("{case}: unexpected error {other:?}"),
        }
    }
    // A refusal does not harm the next, valid connection.
    target.assert_connects(&client_id).await;
    broker.shutdown().await;
}

#[tokio::test]
async fn a_site_token_connects_over_mqtt5() {
    use rumqttc::v5::{AsyncClient, Event, MqttOptions, mqttbytes::v5::Packet};

    let broker = spawn_broker().await;
    let addr = broker.mqtt5_addr.expect("MQTT 5 listener");
    let client_id = format!("agent-{}", unique("s"));
    let mut options = MqttOptions::new(&client_id, addr.ip().to_string(), addr.port());
    options.set_credentials(client_id.clone(), token(&client_id));
    let (_client, mut event_loop) = AsyncClient::new(options, 10);
    let event = tokio::time::timeout(crate::helpers::PATIENCE, event_loop.poll())
        .await
        .expect("an answer");
    assert!(
        matches!(event, Ok(Event::Incoming(Packet::ConnAck(_)))),
        "{event:?}"
    );

    let mut options = MqttOptions::new(&client_id, addr.ip().to_string(), addr.port());
    options.set_credentials(
        client_id.clone(),
        token_with(SECRET, &client_id, "admin", now() + 60),
    );
    let (_client, mut event_loop) = AsyncClient::new(options, 10);
    let event = tokio::time::timeout(crate::helpers::PATIENCE, event_loop.poll())
        .await
        .expect("an answer");
    assert!(
        matches!(
            event,
            Err(rumqttc::v5::ConnectionError::ConnectionRefused(
                rumqttc::v5::mqttbytes::v5::ConnectReturnCode::BadUserNamePassword
            ))
        ),
        "an admin token is refused over MQTT 5 too, with its reason code: {event:?}"
    );
    broker.shutdown().await;
}
