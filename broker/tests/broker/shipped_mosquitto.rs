//! The attacks of [`crate::attacks`] against Mosquitto running the configuration shipped in
//! `deploy/mosquitto/` (mosquitto.conf, the generated ACL) with password files made by
//! smsgw-shared: only ports and file locations are changed for the test, which starts its
//! own Mosquitto on free ports. Without a `mosquitto` binary the test is skipped with a
//! notice, except in CI (`CI=true`), where it fails.

use std::{
    collections::HashMap,
    io::Write,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use smsgw_shared::{credentials::API_MQTT_USERNAME, mosquitto::password_line};

use crate::{
    attacks::{Deployment, Endpoint, attacks},
    helpers::{TestClient, token, unique},
    tls::{install_crypto_provider, make_pki},
};

/// A Mosquitto of our own; stopped when dropped.
struct ShippedMosquitto {
    child: Child,
    agents_port: u16,
    api_port: u16,
    ca: Vec<u8>,
    api_password: String,
    credentials: HashMap<String, String>,
    dir: tempfile::TempDir,
}

impl Drop for ShippedMosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repository_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// The Mosquitto binary, or `None` (with a notice) when there is none outside CI.
fn mosquitto_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("mosquitto"))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and no mosquitto binary: the attacks against Mosquitto must run"
        );
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED attacks against Mosquitto with deploy/mosquitto: no mosquitto binary \
             (install mosquitto to run them; with CI=true this fails)"
        );
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The shipped mosquitto.conf with test ports and files under `dir`.
fn test_config(dir: &Path, agents_port: u16, api_port: u16) -> String {
    let shipped = std::fs::read_to_string(repository_file("deploy/mosquitto/mosquitto.conf"))
        .expect("deploy/mosquitto/mosquitto.conf");
    let dir = dir.display();
    let config = shipped
        .replace("/etc/mosquitto/smsgw/", &format!("{dir}/"))
        .replace("/var/lib/mosquitto/", &format!("{dir}/data/"))
        .replace(
            "\nlistener 8883\n",
            &format!("\nlistener {agents_port} 127.0.0.1\n"),
        )
        .replace(
            "\nlistener 1883 127.0.0.1\n",
            &format!("\nlistener {api_port} 127.0.0.1\n"),
        );
    assert!(
        config.contains(&format!("listener {agents_port} "))
            && config.contains(&format!("listener {api_port} ")),
        "the shipped configuration no longer has the listeners this test moves"
    );
    config
}

impl ShippedMosquitto {
    /// Starts Mosquitto with the shipped configuration and the credentials of `sites`.
    fn start(binary: &Path, sites: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path();
        std::fs::create_dir(path.join("data")).expect("data dir");
        let ca = make_pki(path);
        std::fs::copy(repository_file("deploy/mosquitto/acl"), path.join("acl")).expect("acl");
        let mut sites_passwd = String::new();
        let mut credentials = HashMap::new();
        for site in sites {
            // The site's password is its broker credential, as `sites create --mosquitto` writes it.
            let credential = token(&format!("agent-{site}"));
            let line = password_line(site, &credential).expect("line");
            sites_passwd.push_str(&line);
            sites_passwd.push('\n');
            credentials.insert((*site).to_owned(), credential);
        }
        std::fs::write(path.join("sites.passwd"), sites_passwd).expect("sites.passwd");
        let api_password = unique("p");
        let api_line = password_line(API_MQTT_USERNAME, &api_password).expect("line");
        std::fs::write(path.join("api.passwd"), format!("{api_line}\n")).expect("api.passwd");
        let (agents_port, api_port) = (free_port(), free_port());
        let config = path.join("mosquitto.conf");
        std::fs::write(&config, test_config(path, agents_port, api_port)).expect("config");
        // Started as root, Mosquitto runs as its own user: let it read what the test wrote.
        open_to_all(path);
        let log = std::fs::File::create(path.join("mosquitto.log")).expect("log");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("mosquitto starts");
        let mosquitto = Self {
            child,
            agents_port,
            api_port,
            ca,
            api_password,
            credentials,
            dir,
        };
        mosquitto.wait_ready();
        mosquitto
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        for port in [self.agents_port, self.api_port] {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                let log = std::fs::read_to_string(self.dir.path().join("mosquitto.log"));
                assert!(
                    Instant::now() < deadline,
                    "mosquitto did not listen on {port}: {log:?}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn deployment(&self) -> Deployment {
        let endpoint = |port, tls_ca| Endpoint {
            host: "127.0.0.1".into(),
            port,
            tls_ca,
        };
        Deployment {
            name: "mosquitto (deploy/mosquitto)",
            strict: false,
            agents: endpoint(self.agents_port, Some(self.ca.clone())),
            api: endpoint(self.api_port, None),
            api_login: Some((API_MQTT_USERNAME.into(), self.api_password.clone())),
            credentials: self.credentials.clone(),
        }
    }
}

fn open_to_all(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let set = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    set(dir, 0o777);
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        set(&path, if path.is_dir() { 0o777 } else { 0o644 });
    }
}

#[tokio::test]
async fn a_branch_cannot_read_forge_or_lock_out_another_on_the_shipped_mosquitto() {
    let Some(binary) = mosquitto_binary() else {
        return;
    };
    install_crypto_provider();
    // Sites are named by the test run (Mosquitto keeps retained messages on disk).
    let (a, b) = (unique("a"), unique("b"));
    let mosquitto = ShippedMosquitto::start(&binary, &[&a, &b]);
    let d = mosquitto.deployment();
    attacks(&d, &a, &b).await;

    // A's credential does not log in as B, nor on the API's listener.
    let mut as_b = d.agent(&a);
    as_b.set_credentials(&b, mosquitto.credentials[&a].clone());
    assert!(TestClient::connect(as_b).await.is_err(), "A logged in as B");
    let mut on_api_listener =
        rumqttc::MqttOptions::new(format!("agent-{a}"), "127.0.0.1", mosquitto.api_port);
    on_api_listener.set_credentials(&a, mosquitto.credentials[&a].clone());
    assert!(
        TestClient::connect(on_api_listener).await.is_err(),
        "an agent logged in on the API's listener"
    );
}
