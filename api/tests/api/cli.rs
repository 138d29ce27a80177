//! The `smsgw-api` commands, run as the binary against a test database: bootstrap a
//! deployment (migrate, site, key, admin) and use what they print.

use std::process::{Command, Output};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::json;
use smsgw_shared::credentials::{MQTT_AUDIENCE, MqttClaims};

use crate::helpers::{
    JWT_SECRET, PEPPER, assert_problem, create_database, spawn_app_on, status_json,
};

fn smsgw_api(db_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smsgw-api"))
        .args(args)
        .env("DATABASE_URL", db_url)
        .env("SMSGW_KEY_PEPPER", PEPPER)
        .env("SMSGW_JWT_SECRET", JWT_SECRET)
        .env("SMSGW_ADMIN_PASSWORD", "correct horse battery staple")
        .env_remove("SMSGW_DEFAULT_RATE_LIMIT")
        .output()
        .expect("run smsgw-api")
}

pub(crate) fn ok(db_url: &str, args: &[&str]) -> String {
    let out = smsgw_api(db_url, args);
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn fails(db_url: &str, args: &[&str]) -> String {
    let out = smsgw_api(db_url, args);
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn an_operator_bootstraps_a_deployment_with_the_commands() {
    let db_url = create_database().await;
    ok(&db_url, &["migrate"]);
    let app = spawn_app_on(&db_url).await;

    let out = ok(&db_url, &["sites", "create", "--id", "paris"]);
    let token = out
        .lines()
        .find_map(|l| l.strip_prefix("SMSGW_MQTT_PASSWORD="))
        .expect("token printed");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[MQTT_AUDIENCE]);
    let claims = jsonwebtoken::decode::<MqttClaims>(
        token,
        &DecodingKey::from_secret(JWT_SECRET.as_bytes()),
        &validation,
    )
    .expect("a valid token")
    .claims;
    assert_eq!(claims.sub, "agent-paris");
    assert!(
        ok(&db_url, &["sites", "credentials", "--id", "paris"]).contains("SMSGW_MQTT_PASSWORD=")
    );
    // The Mosquitto password-file line of the same kind of credential: user = site id.
    let with_line = ok(
        &db_url,
        &["sites", "credentials", "--id", "paris", "--mosquitto"],
    );
    let line = with_line.lines().last().expect("a last line");
    assert!(line.starts_with("paris:$7$101$"), "{with_line}");
    assert_eq!(line.split('$').count(), 5, "{line}");
    assert!(ok(&db_url, &["sites", "list"]).contains("paris\tunknown\t0"));
    fails(&db_url, &["sites", "create", "--id", "paris"]);
    fails(&db_url, &["sites", "create", "--id", "Not-Valid"]);
    fails(&db_url, &["sites", "credentials", "--id", "nowhere"]);

    let key = ok(
        &db_url,
        &[
            "keys",
            "create",
            "--name",
            "shop",
            "--site",
            "paris",
            "--rate-limit",
            "7",
        ],
    );
    let key = key.trim();
    let r = app
        .send(key, &json!({"phone": "+33612345678", "content": "hi"}))
        .await;
    assert_eq!(r.headers()["x-ratelimit-limit"], "7");
    let (status, body) = status_json(r).await;
    assert_eq!((status, body["site"].as_str()), (201, Some("paris")));

    let listed = ok(&db_url, &["keys", "list"]);
    assert!(
        listed.contains(&key[..16]) && listed.contains("shop"),
        "{listed}"
    );
    assert!(!listed.contains(key), "keys are never shown again");
    fails(
        &db_url,
        &["keys", "create", "--name", "x", "--site", "nowhere"],
    );
    fails(
        &db_url,
        &["keys", "create", "--name", "x", "--rate-limit", "0"],
    );

    // A key of two sites that may only send: a third site and reading are refused.
    ok(&db_url, &["sites", "create", "--id", "lyon"]);
    ok(&db_url, &["sites", "create", "--id", "nice"]);
    let scoped = ok(
        &db_url,
        &[
            "keys",
            "create",
            "--name",
            "branches",
            "--site",
            "paris",
            "--site",
            "lyon",
            "--permission",
            "send",
        ],
    );
    let scoped = scoped.trim();
    let r = app
        .send(
            scoped,
            &json!({"phone": "+33612345678", "content": "x", "site": "nice"}),
        )
        .await;
    assert_problem(r, 403, "site_not_allowed", Some("site")).await;
    let r = app
        .send(
            scoped,
            &json!({"phone": "+33612345678", "content": "x", "site": "lyon"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .get(scoped, "/api/v1/messages")
        .send()
        .await
        .expect("list");
    assert_problem(r, 403, "permission_denied", None).await;
    let listed = ok(&db_url, &["keys", "list"]);
    assert!(listed.contains("lyon,paris\tsend\t"), "{listed}");
    assert!(
        listed.contains("\tparis\tparis\tsend,read,inbound,sites\t"),
        "{listed}"
    );
    let refused = fails(
        &db_url,
        &["keys", "create", "--name", "x", "--permission", "admin"],
    );
    assert!(refused.contains("--permission"), "{refused}");
    let refused = fails(
        &db_url,
        &[
            "keys",
            "create",
            "--name",
            "x",
            "--site",
            "paris",
            "--default-site",
            "lyon",
        ],
    );
    assert!(refused.contains("--default-site"), "{refused}");

    ok(&db_url, &["keys", "revoke", &key[..16]]);
    fails(&db_url, &["keys", "revoke", "sk_live_nothere0"]);
    let r = app
        .send(key, &json!({"phone": "+33612345678", "content": "hi"}))
        .await;
    assert_problem(r, 401, "revoked_api_key", None).await;

    ok(&db_url, &["admin", "create", "--username", "root"]);
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM admins WHERE username = 'root'")
            .fetch_one(&app.db)
            .await
            .expect("admin");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    fails(&db_url, &["admin", "create", "--username", "root"]);

    assert!(ok(&db_url, &["configfile"]).contains("SMSGW_KEY_PEPPER="));
}

/// `mqtt-acl` prints the files shipped in deploy/ (the generator and the committed files
/// agree; smsgw-shared's tests check the rules themselves).
#[test]
fn mqtt_acl_prints_the_shipped_broker_files() {
    let repository = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let shipped =
        |path: &str| std::fs::read_to_string(repository.join(path)).expect("shipped file");
    let no_db = "postgres://unused";
    assert_eq!(
        ok(no_db, &["mqtt-acl", "--format", "mosquitto"]),
        shipped("deploy/mosquitto/acl")
    );
    assert_eq!(
        ok(
            no_db,
            &[
                "mqtt-acl", "--format", "emqx", "--site", "lyon", "--site", "paris"
            ]
        ),
        shipped("deploy/emqx/acl.conf")
    );
    let other_root = ok(
        no_db,
        &["mqtt-acl", "--format", "mosquitto", "--root", "acme/smsgw"],
    );
    assert!(
        other_root.contains("\npattern read acme/smsgw/%u/command/+\n"),
        "{other_root}"
    );
    fails(no_db, &["mqtt-acl", "--format", "emqx"]);
    fails(
        no_db,
        &["mqtt-acl", "--format", "mosquitto", "--site", "lyon"],
    );
    fails(
        no_db,
        &["mqtt-acl", "--format", "mosquitto", "--root", "a/+/b"],
    );
    fails(
        no_db,
        &["mqtt-acl", "--format", "emqx", "--site", "Not-Valid"],
    );
}

/// `smsgw-api serve` with these secrets: its exit and what it wrote on stderr. A server
/// that starts anyway is killed after a few seconds (and the test fails).
fn serve_with(pepper: &str, jwt_secret: &str) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smsgw-api"))
        .arg("serve")
        // No database is needed to refuse: the secrets are checked first.
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env("SMSGW_HTTP_ADDR", "127.0.0.1:0")
        .env("SMSGW_KEY_PEPPER", pepper)
        .env("SMSGW_JWT_SECRET", jwt_secret)
        .env_remove("SMSGW_MQTT_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run smsgw-api");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    use std::io::Read;
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    (status, stderr)
}

#[test]
fn the_api_refuses_to_start_with_a_weak_secret_and_says_which() {
    let placeholder = configfile_pepper();
    for (pepper, jwt_secret, variable, why) in [
        (PEPPER, "short-jwt-secret", "SMSGW_JWT_SECRET", "bytes long"),
        ("tiny", JWT_SECRET, "SMSGW_KEY_PEPPER", "bytes long"),
        (
            placeholder.as_str(),
            JWT_SECRET,
            "SMSGW_KEY_PEPPER",
            "placeholder",
        ),
        (PEPPER, &"x".repeat(40), "SMSGW_JWT_SECRET", "random"),
    ] {
        let (status, stderr) = serve_with(pepper, jwt_secret);
        assert!(
            status.is_some_and(|c| c != 0),
            "{variable}: the API started anyway ({status:?}): {stderr}"
        );
        assert!(
            stderr.contains(variable)
                && stderr.contains(why)
                && stderr.contains("openssl rand -hex 32"),
            "{variable}: {stderr}"
        );
    }
}

/// The pepper line `smsgw-api configfile` prints.
fn configfile_pepper() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_smsgw-api"))
        .arg("configfile")
        .output()
        .expect("configfile");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("SMSGW_KEY_PEPPER="))
        .expect("a pepper line")
        .to_owned()
}
