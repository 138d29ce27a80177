//! The agent as a real child process, killed with SIGKILL at the worst moments, and cut off
//! from the broker: the simulator's ledger must hold every message exactly once and the
//! API side must get every status.

use std::{process::Stdio, time::Duration};

use hilink::sim::{Availability, Profile, SimConfig, SimHandle, Simulator, Timings};
use smsgw_shared::MessageState;
use tokio::process::{Child, Command};

use crate::{
    proxy::Proxy,
    support::{ApiSide, agent_toml, init_logs, mosquitto, send_command, unique},
};

const WAIT: Duration = Duration::from_secs(60);

/// One agent process with its configuration file, restartable.
struct Process {
    config: std::path::PathBuf,
    child: Option<Child>,
}

impl Process {
    fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_smsgw-agent"))
            .args(["run", "--config"])
            .arg(&self.config)
            .env(
                "RUST_LOG",
                std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the agent binary starts");
        self.child = Some(child);
    }

    async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("SIGKILL");
            let _ = child.wait().await;
        }
    }
}

struct Rig {
    api: ApiSide,
    sim: SimHandle,
    proxy: Proxy,
    agent: Process,
    _dir: tempfile::TempDir,
}

async fn rig(send_duration: Duration) -> Option<Rig> {
    init_logs();
    let broker = mosquitto()?;
    let (site, root) = unique();
    let mut timings = Timings::fast();
    timings.send_duration = send_duration;
    let sim = Simulator::start(SimConfig::new(Profile::E3372h).with_timings(timings))
        .await
        .expect("simulator");
    let proxy = Proxy::start("127.0.0.1:1883".parse().expect("address")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("agent.toml");
    let toml = agent_toml(
        &site,
        &root,
        &proxy.url(),
        dir.path(),
        &[("m0", sim.base_url())],
    );
    std::fs::write(&path, toml).expect("write config");
    let api = ApiSide::connect(&broker, &root, &site).await;
    let mut agent = Process {
        config: path,
        child: None,
    };
    agent.spawn();
    api.wait_for(WAIT, "the agent online", |seen| {
        (seen.presence?.0 == smsgw_shared::wire::Presence::Online).then_some(())
    })
    .await;
    Some(Rig {
        api,
        sim,
        proxy,
        agent,
        _dir: dir,
    })
}

#[tokio::test]
async fn killed_right_after_accepting() {
    let Some(mut r) = rig(Duration::from_millis(50)).await else {
        return;
    };
    r.sim.set_availability(Availability::Refuse, None);
    let command = send_command("+33612345678", "accepted, then the power went out");
    r.api.send(&command).await;
    r.api
        .wait_state(command.id, MessageState::Accepted, WAIT)
        .await;
    r.agent.kill9().await;
    r.sim.set_availability(Availability::Online, None);
    r.agent.spawn();
    r.api
        .wait_state(command.id, MessageState::Delivered, WAIT)
        .await;
    assert_eq!(r.sim.ledger().len(), 1);
    r.agent.kill9().await;
}

#[tokio::test]
async fn killed_in_the_middle_of_a_send() {
    let Some(mut r) = rig(Duration::from_millis(2500)).await else {
        return;
    };
    let command = send_command("+33612345678", "the modem was sending when the agent died");
    r.api.send(&command).await;
    r.api
        .wait_state(command.id, MessageState::Sending, WAIT)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(r.sim.ledger().is_empty(), "still in progress at the modem");
    r.agent.kill9().await;
    r.agent.spawn();
    r.api.wait_state(command.id, MessageState::Sent, WAIT).await;
    r.api
        .wait_state(command.id, MessageState::Delivered, WAIT)
        .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        r.sim.ledger().len(),
        1,
        "found in the sent box, not sent again"
    );
    r.agent.kill9().await;
}

#[tokio::test]
async fn killed_after_a_send_before_its_event_went_out() {
    let Some(mut r) = rig(Duration::from_millis(300)).await else {
        return;
    };
    let command = send_command("+33612345678", "sent while the broker was away");
    r.api.send(&command).await;
    r.api
        .wait_state(command.id, MessageState::Sending, WAIT)
        .await;
    r.proxy.cut();
    let deadline = tokio::time::Instant::now() + WAIT;
    while r.sim.ledger().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give the agent time to journal `sent`; it cannot publish it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    r.agent.kill9().await;
    assert!(
        r.api
            .states(command.id)
            .iter()
            .all(|s| *s != MessageState::Sent)
    );
    r.proxy.restore();
    r.agent.spawn();
    r.api.wait_state(command.id, MessageState::Sent, WAIT).await;
    assert_eq!(r.sim.ledger().len(), 1);
    r.agent.kill9().await;
}

#[tokio::test]
async fn a_broker_outage_loses_nothing_and_doubles_nothing() {
    let Some(mut r) = rig(Duration::from_millis(50)).await else {
        return;
    };
    r.proxy.cut();
    let commands: Vec<_> = (0..5)
        .map(|i| send_command("+33612345678", &format!("queued {i}")))
        .collect();
    for command in &commands {
        r.api.send(command).await;
    }
    r.sim
        .inject_inbound("+33698765432", "arrived during the outage", false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    r.proxy.restore();
    for command in &commands {
        r.api.wait_state(command.id, MessageState::Sent, WAIT).await;
    }
    r.api
        .wait_for(WAIT, "the inbound SMS", |seen| {
            (seen.inbound.len() == 1).then_some(())
        })
        .await;
    let ledger = r.sim.ledger();
    assert_eq!(ledger.len(), 5, "each queued message exactly once");
    r.agent.kill9().await;
}
