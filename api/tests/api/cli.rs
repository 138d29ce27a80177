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
