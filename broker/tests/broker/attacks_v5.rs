//! The attacks of [`crate::attacks`] from smsgw-broker's MQTT 5 listener, where every
//! refusal has a reason code: SUBACK and PUBACK "not authorized" (the connection stays),
//! DISCONNECT "not authorized" for a QoS 0 publish, CONNACK "not authorized" for a Will on
//! another site's topic. The victim and the API use the 3.1.1 listener of the same broker:
//! nothing forged reaches them, and the attacker's own paths work — also with MQTT 5
//! properties, which rumqttd 0.20 cannot hand to a 3.1.1 subscriber (the front drops them).

use rumqttc::v5::{
    AsyncClient, ConnectionError as V5Error, Event, EventLoop, MqttOptions,
    mqttbytes::{
        QoS,
        v5::{
            ConnectReturnCode, DisconnectReasonCode, Filter, LastWill, LastWillProperties, Packet,
            PubAckReason, PublishProperties, SubscribeReasonCode,
        },
    },
};
use smsgw_shared::{
    SiteId,
    topic::{TopicKind, Topics},
};

use crate::{
    attacks::{Deployment, FORGED, broker_with_tls, drain, endpoint, forgeries, next_on, snooping},
    helpers::{PATIENCE, TestClient, token, unique},
};

/// The next packet the broker sends, or the end of the connection.
async fn next(events: &mut EventLoop) -> Result<Packet, V5Error> {
    loop {
        match tokio::time::timeout(PATIENCE, events.poll())
            .await
            .expect("an answer in time")
        {
            Ok(Event::Incoming(packet)) => return Ok(packet),
            Ok(Event::Outgoing(_)) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Publishes with QoS 1 (and a topic alias, if given); the PUBACK's reason.
async fn puback(
    client: &AsyncClient,
    events: &mut EventLoop,
    topic: &str,
    retain: bool,
    alias: Option<u16>,
) -> PubAckReason {
    let properties = PublishProperties {
        topic_alias: alias,
        ..Default::default()
    };
    client
        .publish_with_properties(topic, QoS::AtLeastOnce, retain, FORGED, properties)
        .await
        .expect("queued");
    match next(events).await {
        Ok(Packet::PubAck(ack)) => ack.reason,
        other => panic!("{topic:?}: {other:?}"),
    }
}

/// Subscribes to `filters` in one SUBSCRIBE; the SUBACK's reasons.
async fn suback(
    client: &AsyncClient,
    events: &mut EventLoop,
    filters: &[&str],
) -> Vec<SubscribeReasonCode> {
    let filters = filters.iter().map(|f| Filter::new(*f, QoS::AtLeastOnce));
    client.subscribe_many(filters).await.expect("queued");
    match next(events).await {
        Ok(Packet::SubAck(ack)) => ack.return_codes,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn every_attack_over_mqtt5_gets_not_authorized() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (broker, _) = broker_with_tls(dir.path()).await;
    let plain = endpoint(broker.mqtt_addr.expect("plain listener"), None);
    let d = Deployment::smsgw_broker("smsgw-broker", plain.clone(), plain);
    let topics = Topics::default();
    let (a, b) = (unique("a"), unique("b"));
    let site_a: SiteId = a.parse().expect("site");
    let site_b: SiteId = b.parse().expect("site");
    let b_presence = topics.topic(&site_b, TopicKind::StateConn);
    let real_presence = br#"{"v":1,"state":"online","session":3}"#;

    let mut victim = TestClient::connected(d.agent(&b)).await;
    victim.subscribe(&topics.agent_commands(&site_b)).await;
    victim.publish(&b_presence, real_presence, true).await;
    let mut api = TestClient::connected(d.api()).await;
    api.subscribe(&topics.api_events()).await;
    api.subscribe(&topics.api_states()).await;
    next_on(&mut api, &b_presence).await;

    // A, over MQTT 5.
    let addr = broker.mqtt5_addr.expect("MQTT 5 listener");
    let client_id = format!("agent-{a}");
    let options = |will: Option<LastWill>| {
        let mut options = MqttOptions::new(&client_id, addr.ip().to_string(), addr.port());
        options.set_credentials(&a, token(&client_id));
        if let Some(will) = will {
            options.set_last_will(will);
        }
        options
    };
    let (client, mut events) = AsyncClient::new(options(None), 10);
    assert!(matches!(next(&mut events).await, Ok(Packet::ConnAck(_))));
    for filter in snooping(&topics, &site_b) {
        let codes = suback(&client, &mut events, &[&filter]).await;
        assert_eq!(codes, [SubscribeReasonCode::NotAuthorized], "{filter}");
    }
    let own_commands = topics.agent_commands(&site_a);
    let codes = suback(&client, &mut events, &["#", &own_commands]).await;
    assert_eq!(
        codes,
        [
            SubscribeReasonCode::NotAuthorized,
            SubscribeReasonCode::Success(QoS::AtLeastOnce)
        ],
        "the allowed filter of a SUBSCRIBE is kept, in its place"
    );
    for (topic, retain) in forgeries(&topics, &site_b) {
        let reason = puback(&client, &mut events, &topic, retain, None).await;
        assert_eq!(
            reason,
            PubAckReason::NotAuthorized,
            "{topic} retain {retain}"
        );
    }
    // Its own status goes through, retained it does not; an alias stands for the topic
    // it was set with, and only an allowed topic sets one.
    let own_status = topics.topic(&site_a, TopicKind::EventStatus);
    let b_command = topics.topic(&site_b, TopicKind::CommandSend);
    let aliased = [
        (own_status.as_str(), false, None, PubAckReason::Success),
        (own_status.as_str(), true, None, PubAckReason::NotAuthorized),
        (own_status.as_str(), false, Some(3), PubAckReason::Success),
        ("", false, Some(3), PubAckReason::Success),
        ("", true, Some(3), PubAckReason::NotAuthorized),
        (
            b_command.as_str(),
            false,
            Some(4),
            PubAckReason::NotAuthorized,
        ),
        ("", false, Some(4), PubAckReason::NotAuthorized),
    ];
    for (topic, retain, alias, expected) in aliased {
        let reason = puback(&client, &mut events, topic, retain, alias).await;
        assert_eq!(
            reason, expected,
            "{topic:?} retain {retain} alias {alias:?}"
        );
    }
    assert_eq!(
        next_on(&mut api, &own_status).await.payload.as_ref(),
        FORGED
    );
    // QoS 0 has no PUBACK: DISCONNECT "not authorized" (rumqttc reports it as the end of
    // the connection).
    client
        .publish(&b_presence, QoS::AtMostOnce, true, FORGED)
        .await
        .expect("queued");
    match next(&mut events).await {
        Err(V5Error::MqttState(rumqttc::v5::StateError::ServerDisconnect {
            reason_code: DisconnectReasonCode::NotAuthorized,
            ..
        })) => {}
        other => panic!("{other:?}"),
    }
    let will = LastWill::new(&b_presence, FORGED, QoS::AtLeastOnce, true, None);
    let (_client, mut events) = AsyncClient::new(options(Some(will)), 10);
    assert!(
        matches!(
            next(&mut events).await,
            Err(V5Error::ConnectionRefused(ConnectReturnCode::NotAuthorized))
        ),
        "a Will on B's presence is refused at CONNECT"
    );

    // A's own Will, with MQTT 5 properties, reaches the API (on MQTT 3.1.1) when A
    // vanishes, and the API stays connected.
    let a_presence = topics.topic(&site_a, TopicKind::StateConn);
    let properties = LastWillProperties {
        delay_interval: None,
        payload_format_indicator: Some(1),
        message_expiry_interval: None,
        content_type: Some("application/json".into()),
        response_topic: None,
        correlation_data: None,
        user_properties: vec![("site".into(), a.clone())],
    };
    let will = LastWill::new(
        &a_presence,
        "offline",
        QoS::AtLeastOnce,
        true,
        Some(properties),
    );
    let (_client, mut events) = AsyncClient::new(options(Some(will)), 10);
    assert!(matches!(next(&mut events).await, Ok(Packet::ConnAck(_))));
    drop(events);
    assert_eq!(
        next_on(&mut api, &a_presence).await.payload.as_ref(),
        b"offline"
    );

    // Nothing forged reached B or the API (A's own messages aside), B's presence is its own.
    let to_b = drain(&mut victim).await;
    assert!(to_b.is_empty(), "B received {to_b:?}");
    let to_api = drain(&mut api).await;
    assert!(
        to_api
            .iter()
            .all(|p| p.topic == own_status || p.topic == a_presence),
        "the API received {to_api:?}"
    );
    let mut late = TestClient::connected(d.api()).await;
    late.subscribe(&b_presence).await;
    assert_eq!(
        next_on(&mut late, &b_presence).await.payload.as_ref(),
        real_presence
    );
    // A clears its retained presence.
    let (client, mut events) = AsyncClient::new(options(None), 10);
    assert!(matches!(next(&mut events).await, Ok(Packet::ConnAck(_))));
    client
        .publish(&a_presence, QoS::AtLeastOnce, true, "")
        .await
        .expect("queued");
    assert!(matches!(next(&mut events).await, Ok(Packet::PubAck(_))));
    for client in [late, victim, api] {
        client.disconnect().await;
    }
    broker.shutdown().await;
}
