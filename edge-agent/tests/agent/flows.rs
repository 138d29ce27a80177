//! The whole agent in-process: `hilink-sim` as the modem, a real broker (Mosquitto), and
//! the API's part played by `ApiSide`. The simulator's ledger is the ground truth of what
//! the network accepted.

use std::time::Duration;

use hilink::sim::{Availability, Profile, SendFault, SimConfig, SimHandle, Simulator, Timings};
use smsgw_agent::Agent;
use smsgw_shared::{
    MessageState, TopicKind,
    wire::{Circuit, FailureCode},
};

use crate::support::{ApiSide, agent_config, mosquitto, send_command, unique};

const WAIT: Duration = Duration::from_secs(60);

async fn sim(profile: Profile) -> SimHandle {
    Simulator::start(
        SimConfig::new(profile)
            .with_timings(Timings::fast())
            .with_credentials("admin", "admin"),
    )
    .await
    .expect("simulator starts")
}

struct Setup {
    api: ApiSide,
    agent: Agent,
    sims: Vec<SimHandle>,
    _dir: tempfile::TempDir,
}

async fn setup(profiles: &[Profile]) -> Option<Setup> {
    setup_with(profiles, |_| {}).await
}

/// Like [`setup`], with a change to the agent's configuration before it starts.
async fn setup_with(
    profiles: &[Profile],
    tweak: impl FnOnce(&mut smsgw_agent::Config),
) -> Option<Setup> {
    crate::support::init_logs();
    let broker = mosquitto()?;
    let (site, root) = unique();
    let mut sims = Vec::new();
    for profile in profiles {
        sims.push(sim(*profile).await);
    }
    let modems: Vec<(String, String)> = sims
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("m{i}"), s.base_url()))
        .collect();
    let modems: Vec<(&str, String)> = modems
        .iter()
        .map(|(id, url)| (id.as_str(), url.clone()))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = agent_config(&site, &root, &broker, dir.path(), &modems);
    tweak(&mut config);
    let api = ApiSide::connect(&broker, &root, &site).await;
    let agent = Agent::start(config).await.expect("agent starts");
    // Commands published before the agent's first subscription would reach nobody (the
    // API re-dispatches those; these tests wait instead).
    api.wait_for(WAIT, "the agent online", |seen| {
        (seen.presence?.0 == smsgw_shared::wire::Presence::Online).then_some(())
    })
    .await;
    Some(Setup {
        api,
        agent,
        sims,
        _dir: dir,
    })
}

#[tokio::test]
async fn an_sms_goes_to_the_network_once_and_is_reported_delivered() {
    let Some(s) = setup(&[Profile::E3372h]).await else {
        return;
    };
    let command = send_command("+33612345678", "Your code is 123456");
    s.api.send(&command).await;
    let delivered = s
        .api
        .wait_state(command.id, MessageState::Delivered, WAIT)
        .await;
    assert_eq!(delivered.modem.as_ref().map(|m| m.as_str()), Some("m0"));
    assert_eq!(
        s.api.states(command.id),
        [
            MessageState::Accepted,
            MessageState::Sending,
            MessageState::Sent,
            MessageState::Delivered
        ]
    );
    let ledger = s.sims[0].ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(
        (ledger[0].to.as_str(), ledger[0].text.as_str()),
        ("+33612345678", "Your code is 123456")
    );
    // The same command again (as a re-dispatch would bring it) is never sent again.
    s.api.send(&command).await;
    s.api
        .wait_for(WAIT, "the repeated command's state", |seen| {
            (seen
                .status
                .get(&command.id)?
                .iter()
                .filter(|e| e.state == MessageState::Delivered)
                .count()
                >= 2)
                .then_some(())
        })
        .await;
    assert_eq!(s.sims[0].ledger().len(), 1);
    // Presence and health are published.
    let modems = s
        .api
        .wait_for(WAIT, "state/modems", |seen| seen.modems.clone())
        .await;
    assert_eq!(modems.modems.len(), 1);
    assert_eq!(modems.modems[0].storage.max, 500);
    let presence = s.api.wait_for(WAIT, "presence", |seen| seen.presence).await;
    assert_eq!(presence.0, smsgw_shared::wire::Presence::Online);
    s.agent.stop().await;
}

#[tokio::test]
async fn every_firmware_family_sends() {
    let Some(s) = setup(&[Profile::E303, Profile::E3372h320]).await else {
        return;
    };
    let mut ids = Vec::new();
    for i in 0..4 {
        let mut command = send_command("+33612345678", &format!("message {i}"));
        command.modem = Some(
            if i % 2 == 0 { "m0" } else { "m1" }
                .parse()
                .expect("modem id"),
        );
        ids.push(command.id);
        s.api.send(&command).await;
    }
    for id in &ids {
        s.api.wait_state(*id, MessageState::Sent, WAIT).await;
    }
    assert_eq!(
        s.sims[0].ledger().len(),
        2,
        "e303 got the messages naming it"
    );
    assert_eq!(
        s.sims[1].ledger().len(),
        2,
        "e3372h-320 (login) got the others"
    );
    s.agent.stop().await;
}

#[tokio::test]
async fn two_modems_share_the_load_and_nothing_is_sent_twice() {
    let Some(s) = setup(&[Profile::E3372h, Profile::E3372h]).await else {
        return;
    };
    for sim in &s.sims {
        let mut timings = Timings::fast();
        timings.send_duration = Duration::from_millis(200);
        sim.set_timings(timings);
    }
    let commands: Vec<_> = (0..12)
        .map(|i| send_command("+33612345678", &format!("load {i}")))
        .collect();
    for command in &commands {
        s.api.send(command).await;
    }
    for command in &commands {
        s.api.wait_state(command.id, MessageState::Sent, WAIT).await;
    }
    let (a, b) = (s.sims[0].ledger(), s.sims[1].ledger());
    assert_eq!(a.len() + b.len(), 12, "each message exactly once");
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both modems worked: {} / {}",
        a.len(),
        b.len()
    );
    let mut texts: Vec<String> = a.iter().chain(&b).map(|e| e.text.clone()).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), 12);
    s.agent.stop().await;
}

#[tokio::test]
async fn a_failing_number_fails_once_with_no_endless_retry() {
    let Some(s) = setup(&[Profile::E3372h]).await else {
        return;
    };
    s.sims[0].fail_number("+33699999999");
    let command = send_command("+33699999999", "never arrives");
    s.api.send(&command).await;
    let failed = s
        .api
        .wait_state(command.id, MessageState::Failed, WAIT)
        .await;
    let error = failed.error.expect("failed carries its error");
    assert_eq!(error.code, FailureCode::NetworkRejected);
    assert!(!error.retryable);
    assert_eq!(failed.attempt, 1);
    assert!(s.sims[0].ledger().is_empty());
    s.agent.stop().await;
}

#[tokio::test]
async fn a_device_error_fails_with_its_code() {
    let Some(s) = setup(&[Profile::E3372h]).await else {
        return;
    };
    s.sims[0].fail_next_sends(1, SendFault::Code(113054));
    let command = send_command("+33612345678", "refused");
    s.api.send(&command).await;
    let failed = s
        .api
        .wait_state(command.id, MessageState::Failed, WAIT)
        .await;
    let error = failed.error.expect("error");
    assert_eq!(
        (error.code, error.modem_code),
        (FailureCode::ModemRejected, Some(113054))
    );
    assert!(s.sims[0].ledger().is_empty());
    s.agent.stop().await;
}

#[tokio::test]
async fn busy_streaks_and_expired_sessions_are_retried() {
    let Some(s) = setup(&[Profile::E3372h]).await else {
        return;
    };
    s.sims[0].fail_next_sends(2, SendFault::Busy);
    let first = send_command("+33612345678", "after a busy streak");
    s.api.send(&first).await;
    let sent = s.api.wait_state(first.id, MessageState::Sent, WAIT).await;
    assert_eq!(sent.attempt, 3);
    let retried: Vec<_> = {
        let seen = s.api.seen.lock().expect("lock");
        seen.status[&first.id]
            .iter()
            .filter_map(|e| e.error.clone())
            .collect()
    };
    assert!(
        retried.iter().all(|e| e.code == FailureCode::ModemBusy
            && e.retryable
            && e.modem_code == Some(100004))
    );
    s.sims[0].expire_sessions();
    let second = send_command("+33612345678", "after the session expired");
    s.api.send(&second).await;
    s.api.wait_state(second.id, MessageState::Sent, WAIT).await;
    assert_eq!(s.sims[0].ledger().len(), 2);
    s.agent.stop().await;
}

#[tokio::test]
async fn an_offline_modem_opens_the_breaker_and_recovers() {
    let Some(s) = setup(&[Profile::E3372h]).await else {
        return;
    };
    s.sims[0].set_availability(Availability::Refuse, Some(Duration::from_secs(3)));
    let command = send_command("+33612345678", "waits for the modem");
    s.api.send(&command).await;
    s.api
        .wait_for(WAIT, "the breaker to open", |seen| {
            seen.modems
                .as_ref()?
                .modems
                .iter()
                .any(|m| m.circuit != Circuit::Closed)
                .then_some(())
        })
        .await;
    s.api.wait_state(command.id, MessageState::Sent, WAIT).await;
    s.api
        .wait_for(WAIT, "the breaker to close", |seen| {
            seen.modems
                .as_ref()?
                .modems
                .iter()
                .all(|m| m.circuit == Circuit::Closed)
                .then_some(())
        })
        .await;
    assert_eq!(s.sims[0].ledger().len(), 1);
    s.agent.stop().await;
}

#[tokio::test]
async fn a_full_storage_is_not_fatal() {
    let Some(s) = setup(&[Profile::E3372h]).await else {
        return;
    };
    s.sims[0].fill_storage(0);
    let command = send_command("+33612345678", "sent once there is room");
    s.api.send(&command).await;
    s.api.wait_state(command.id, MessageState::Sent, WAIT).await;
    assert_eq!(s.sims[0].ledger().len(), 1);
    s.agent.stop().await;
}

#[tokio::test]
async fn cancel_and_expiry_stop_a_message_before_the_modem() {
    let Some(s) = setup(&[Profile::E3372h]).await else {
        return;
    };
    // A command for a modem this site does not have waits: it can be canceled.
    let mut waiting = send_command("+33612345678", "canceled");
    waiting.modem = Some("elsewhere".parse().expect("modem id"));
    s.api.send(&waiting).await;
    s.api
        .wait_state(waiting.id, MessageState::Accepted, WAIT)
        .await;
    s.api.cancel(waiting.id).await;
    s.api
        .wait_state(waiting.id, MessageState::Canceled, WAIT)
        .await;
    let mut late = send_command("+33612345678", "too late");
    late.expires_at = Some(time::OffsetDateTime::now_utc() - Duration::from_secs(1));
    s.api.send(&late).await;
    s.api.wait_state(late.id, MessageState::Expired, WAIT).await;
    assert!(s.sims[0].ledger().is_empty());
    s.agent.stop().await;
}

#[tokio::test]
async fn inbound_sms_are_reported_once_and_removed_from_the_modem() {
    let Some(s) = setup(&[Profile::E3372h]).await else {
        return;
    };
    s.sims[0].inject_inbound("+33698765432", "STOP", false);
    let long = "Bonjour, ceci est un long message qui dépasse largement la taille d'un seul SMS \
                afin de vérifier que les parties sont réassemblées avant d'être transmises à l'API.";
    // Reassembled by the modem (one SmsType 2 entry) ...
    s.sims[0].inject_inbound("+33611111111", long, false);
    // ... or stored as one SmsType 2 entry per part: the agent joins them.
    s.sims[0].inject_inbound("+33622222222", long, true);
    let events = s
        .api
        .wait_for(WAIT, "three inbound events", |seen| {
            (seen.inbound.len() >= 3).then(|| seen.inbound.clone())
        })
        .await;
    let mut texts: Vec<_> = events
        .values()
        .map(|e| (e.from.clone(), e.text.clone(), e.segments))
        .collect();
    texts.sort();
    let parts = u32::try_from(smsgw_shared::sms::analyze(long).segments).expect("small");
    assert!(parts >= 2);
    assert_eq!(
        texts[0],
        ("+33611111111".to_owned(), long.to_owned(), parts)
    );
    assert_eq!(
        texts[1],
        ("+33622222222".to_owned(), long.to_owned(), parts)
    );
    assert_eq!(texts[2], ("+33698765432".to_owned(), "STOP".to_owned(), 1));
    // Deleted from the modem once journalled, and reported once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(s.api.seen.lock().expect("lock").inbound.len(), 3);
    assert!(
        s.sims[0]
            .messages()
            .iter()
            .all(|m| m.folder != hilink::sim::Folder::Inbox)
    );
    s.agent.stop().await;
}

#[tokio::test]
async fn malformed_commands_are_dropped_and_the_agent_keeps_working() {
    let Some(s) = setup(&[Profile::E3372h]).await else {
        return;
    };
    s.api.raw(TopicKind::CommandSend, b"{not json").await;
    s.api
        .raw(TopicKind::CommandSend, b"{\"v\": 1, \"id\": \"nope\"}")
        .await;
    s.api.raw(TopicKind::CommandCancel, b"[]").await;
    s.api.raw(TopicKind::CommandAck, b"{\"v\": 9}").await;
    let command = send_command("+33612345678", "still working");
    s.api.send(&command).await;
    s.api.wait_state(command.id, MessageState::Sent, WAIT).await;
    s.agent.stop().await;
}

#[tokio::test]
async fn unacknowledged_events_are_published_again_until_acked() {
    let Some(s) = setup(&[Profile::E3372h]).await else {
        return;
    };
    s.api
        .acking
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let command = send_command("+33612345678", "ack me");
    s.api.send(&command).await;
    s.api.wait_state(command.id, MessageState::Sent, WAIT).await;
    s.api
        .wait_for(WAIT, "a re-published event", |seen| {
            seen.deliveries.values().any(|&n| n >= 2).then_some(())
        })
        .await;
    s.api
        .acking
        .store(true, std::sync::atomic::Ordering::SeqCst);
    s.api
        .wait_for(WAIT, "the outbox to drain", |_| None::<()>.or(Some(())))
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while s.agent.journal().outbox_len().await.unwrap_or(1) > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "events never acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(s.sims[0].ledger().len(), 1);
    s.agent.stop().await;
}

/// An outbox far larger than rumqttc's request channel, published again and again while
/// the API confirms nothing, must leave room for the acks of new commands: otherwise the
/// broker's window towards the agent fills and no command arrives any more.
#[tokio::test]
async fn a_large_unconfirmed_outbox_never_blocks_new_commands() {
    let Some(s) = setup_with(&[Profile::E3372h], |c| c.mqtt.ack_timeout_ms = 300).await else {
        return;
    };
    s.api
        .acking
        .store(false, std::sync::atomic::Ordering::SeqCst);
    // Commands for a modem this site does not have: each leaves an `accepted` event in the
    // outbox and is never sent.
    let elsewhere: smsgw_shared::ModemId = "elsewhere".parse().expect("modem id");
    let now = time::OffsetDateTime::now_utc();
    for i in 0..3000 {
        let mut filler = send_command("+33612345678", &format!("filler {i}"));
        filler.modem = Some(elsewhere.clone());
        s.agent
            .journal()
            .accept(&filler, now)
            .await
            .expect("journalled");
    }
    s.api
        .wait_for(WAIT, "the filler events re-published", |seen| {
            (seen.deliveries.values().filter(|&&n| n >= 2).count() >= 1000).then_some(())
        })
        .await;
    let commands: Vec<_> = (0..50)
        .map(|i| send_command("+33612345678", &format!("real {i}")))
        .collect();
    for command in &commands {
        s.api.send(command).await;
    }
    for command in &commands {
        s.api.wait_state(command.id, MessageState::Sent, WAIT).await;
    }
    assert_eq!(s.sims[0].ledger().len(), 50);
    s.api
        .acking
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + WAIT;
    while s.agent.journal().outbox_len().await.unwrap_or(1) > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox never drained"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.agent.stop().await;
}

/// The same path through smsgw-broker with JWT credentials, including a broker restart
/// (rumqttd keeps sessions in memory only: the agent must re-subscribe and re-publish).
#[tokio::test]
async fn through_smsgw_broker_with_a_restart() {
    crate::support::init_logs();
    let broker = crate::support::our_broker(None).await;
    let addr = broker.mqtt_addr.expect("plain listener");
    let url = format!("mqtt://{addr}");
    let (site, root) = unique();
    let modem = sim(Profile::E3372h).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = agent_config(&site, &root, &url, dir.path(), &[("m0", modem.base_url())]);
    config.mqtt.password = crate::support::token(crate::support::SECRET, &config.client_id());
    let api = ApiSide::connect_with(&url, &root, &site, Some(crate::support::SECRET)).await;
    let agent = Agent::start(config).await.expect("agent starts");
    api.wait_for(WAIT, "the agent online", |seen| {
        (seen.presence?.0 == smsgw_shared::wire::Presence::Online).then_some(())
    })
    .await;
    let first = send_command("+33612345678", "through our broker");
    api.send(&first).await;
    api.wait_state(first.id, MessageState::Delivered, WAIT)
        .await;
    // Restart the broker on the same port: everything it held in memory is gone.
    broker.shutdown().await;
    let broker = crate::support::our_broker(Some(addr)).await;
    modem.inject_inbound("+33698765432", "sent while the broker restarted", false);
    let second = send_command("+33612345678", "after the restart");
    let deadline = tokio::time::Instant::now() + WAIT;
    // The API side reconnects too; publish until the agent has the command (as the API's
    // re-dispatch does).
    loop {
        api.send(&second).await;
        if api
            .seen
            .lock()
            .expect("lock")
            .status
            .contains_key(&second.id)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent never got the command"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    api.wait_state(second.id, MessageState::Sent, WAIT).await;
    api.wait_for(WAIT, "the inbound SMS", |seen| {
        (seen.inbound.len() == 1).then_some(())
    })
    .await;
    assert_eq!(modem.ledger().len(), 2, "each message once");
    agent.stop().await;
    broker.shutdown().await;
}

/// `smsgw-agent check` against a simulated stick prints what a technician needs.
#[tokio::test]
async fn check_reports_every_modem() {
    let modem = sim(Profile::E3372h320).await;
    let (site, root) = unique();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = agent_config(
        &site,
        &root,
        "mqtt://127.0.0.1:1",
        dir.path(),
        &[("m0", modem.base_url())],
    );
    let mut out = Vec::new();
    assert!(
        smsgw_agent::check::run(&config, &mut out)
            .await
            .expect("writes")
    );
    let text = String::from_utf8(out).expect("utf-8");
    for expected in [
        "modem m0",
        "model",
        "firmware",
        "operator",
        "signal",
        "sim       ready",
        "storage   0/500",
        "OK",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    // A modem that does not answer is reported, and the check fails.
    config.modems[0].url = "http://127.0.0.1:1/".into();
    let mut out = Vec::new();
    assert!(
        !smsgw_agent::check::run(&config, &mut out)
            .await
            .expect("writes")
    );
    assert!(String::from_utf8_lossy(&out).contains("ERROR"));
}

/// The local `/metrics` endpoint serves the agent's Prometheus metrics.
#[tokio::test]
async fn metrics_are_served() {
    let Some(s) = setup_with(&[Profile::E3372h], |c| {
        c.metrics_addr = "127.0.0.1:0".into()
    })
    .await
    else {
        return;
    };
    let agent = s.agent;
    let addr = agent.metrics_addr.expect("metrics enabled");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let body = http_get(&format!("http://{addr}/metrics")).await;
        if body.contains("smsgw_agent_mqtt_connected 1") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "metrics never showed the connection:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    agent.stop().await;
}

async fn http_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut body = String::new();
    stream.read_to_string(&mut body).await.expect("read");
    body
}

/// With a backlog, a modem works by priority, then in arrival order.
#[tokio::test]
async fn priority_then_arrival_order() {
    let Some(s) = setup_with(&[Profile::E3372h], |c| c.modems[0].min_gap_ms = 700).await else {
        return;
    };
    let (api, agent, modem) = (&s.api, s.agent, &s.sims[0]);
    let first = send_command("+33612345678", "first");
    api.send(&first).await;
    api.wait_state(first.id, MessageState::Sending, WAIT).await;
    // Queued behind the gap: arrival order low, normal, high, normal.
    let mut commands = Vec::new();
    for (text, priority) in [
        ("low", smsgw_shared::wire::Priority::Low),
        ("normal 1", smsgw_shared::wire::Priority::Normal),
        ("high", smsgw_shared::wire::Priority::High),
        ("normal 2", smsgw_shared::wire::Priority::Normal),
    ] {
        let mut command = send_command("+33612345678", text);
        command.priority = priority;
        api.send(&command).await;
        commands.push(command);
    }
    for command in &commands {
        api.wait_state(command.id, MessageState::Sent, WAIT).await;
    }
    let order: Vec<String> = modem.ledger().into_iter().map(|e| e.text).collect();
    assert_eq!(order, ["first", "high", "normal 1", "normal 2", "low"]);
    agent.stop().await;
}
