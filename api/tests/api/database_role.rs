//! The API with its own least-privilege role, on a PostgreSQL server that checks
//! passwords (a throwaway cluster: the shared test server trusts every local
//! connection, which would make a password change prove nothing). The owner migrates and
//! grants (`smsgw-api migrate --runtime-role`); the API serves as the runtime role with
//! its password in a file, and follows the file when the password is rotated.

use std::{path::Path, time::Duration};

use serde_json::json;
use smsgw_api::config::ServeConfig;
use smsgw_testpg::ThrowawayCluster;
use sqlx::{Connection, Executor, PgConnection, PgPool};

use crate::{
    cli::ok,
    helpers::{PEPPER, spawn_app_with},
};

/// How long the API may take to notice a changed file (it reads it every second).
const NOTICE_WITHIN: Duration = Duration::from_secs(15);

/// A cluster where only `postgres` is trusted; every other role logs in with its
/// password (scram-sha-256), as on RDS.
async fn cluster_with_passwords() -> (ThrowawayCluster, String) {
    let cluster = tokio::task::spawn_blocking(ThrowawayCluster::start)
        .await
        .expect("the cluster task")
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        cluster.data_dir().join("pg_hba.conf"),
        "local all all trust\n\
         host all postgres 127.0.0.1/32 trust\n\
         host all all 127.0.0.1/32 scram-sha-256\n",
    )
    .expect("write pg_hba.conf");
    let mut admin = PgConnection::connect(&cluster.url())
        .await
        .expect("connect as postgres");
    for statement in ["SELECT pg_reload_conf()", "CREATE DATABASE smsgw"] {
        admin.execute(statement).await.expect(statement);
    }
    let url = smsgw_testpg::with_database(&cluster.url(), "smsgw");
    (cluster, url)
}

/// Replaces the password file at once (a rename), as a secret agent would.
fn write_secret(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write the new secret");
    std::fs::rename(&tmp, path).expect("replace the secret");
}

/// Ends every connection of `role`, so that the pool must open new ones.
async fn disconnect(admin: &mut PgConnection, role: &str) {
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1")
        .bind(role)
        .execute(admin)
        .await
        .expect("terminate the role's connections");
}

async fn current_user(db: &PgPool) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(db)
        .await
}

/// Waits until a new connection of the pool logs in as `role`.
async fn eventually_connects_as(db: &PgPool, role: &str) {
    let deadline = tokio::time::Instant::now() + NOTICE_WITHIN;
    loop {
        match current_user(db).await {
            Ok(user) if user == role => return,
            other if tokio::time::Instant::now() > deadline => {
                panic!("still no connection as {role} after {NOTICE_WITHIN:?}: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn sqlstate(error: &sqlx::Error) -> Option<String> {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned())
}

#[tokio::test]
async fn the_api_serves_as_its_runtime_role_and_follows_a_rotated_password() {
    let (_cluster, owner_url) = cluster_with_passwords().await;
    let mut admin = PgConnection::connect(&owner_url)
        .await
        .expect("connect as the owner");
    // As before PostgreSQL 15, every role may create in schema public: the grants take
    // that back.
    admin
        .execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
        .await
        .expect("open the schema as PostgreSQL 14 does");
    // The owner migrates and grants; the runtime role gets its first password.
    ok(&owner_url, &["migrate", "--runtime-role", "smsgw_api"]);
    // Granting again (after the next migration) changes nothing and fails nothing.
    ok(&owner_url, &["migrate", "--runtime-role", "smsgw_api"]);
    admin
        .execute("ALTER ROLE smsgw_api PASSWORD 'first-password-0123'")
        .await
        .expect("set the password");

    let secrets = tempfile::tempdir().expect("a temp dir");
    let password_file = secrets.path().join("database.password");
    write_secret(&password_file, "first-password-0123\n");
    let runtime_url = owner_url.replacen("postgres@", "smsgw_api@", 1);
    assert_ne!(runtime_url, owner_url);
    let mut config = ServeConfig::for_database(&runtime_url, PEPPER);
    config.database.database_password_file = Some(password_file.clone());
    config.no_migrate = true;
    let app = spawn_app_with(config).await;
    assert_eq!(
        current_user(&app.db).await.expect("a connection"),
        "smsgw_api"
    );

    // Everything the API does works with the grants alone…
    let key = app.with_site_and_key().await;
    let sent = app
        .send(&key, &json!({"to": "+33612345678", "text": "as smsgw_api"}))
        .await;
    assert_eq!(sent.status(), 201);
    let listed = app
        .get(&key, "/api/v1/messages")
        .send()
        .await
        .expect("list");
    assert_eq!(listed.status(), 200);
    // …and nothing beyond them: no DDL, no TRUNCATE, no look at the migrations.
    for statement in [
        "CREATE TABLE intruder (id int)",
        "DROP TABLE messages",
        "ALTER TABLE messages ADD COLUMN intruder int",
        "TRUNCATE messages",
        "SELECT count(*) FROM _sqlx_migrations",
        "CREATE ROLE intruder",
    ] {
        let refused = sqlx::raw_sql(statement)
            .execute(&app.db)
            .await
            .expect_err(statement);
        assert_eq!(
            sqlstate(&refused).as_deref(),
            Some("42501"),
            "{statement}: {refused}"
        );
    }

    // The password is rotated in the database. Open connections would keep working;
    // ending them makes the pool connect again, and the old password is refused…
    admin
        .execute("ALTER ROLE smsgw_api PASSWORD 'second-password-4567'")
        .await
        .expect("rotate the password");
    disconnect(&mut admin, "smsgw_api").await;
    let mut refused = None;
    for _ in 0..20 {
        match current_user(&app.db).await {
            Err(e) if sqlstate(&e).as_deref() == Some("28P01") => {
                refused = Some(e);
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert!(refused.is_some(), "the old password still logs in");
    // …until the file holds the new one: new connections then use it, no restart.
    write_secret(&password_file, "second-password-4567\n");
    eventually_connects_as(&app.db, "smsgw_api").await;
    let sent = app
        .send(
            &key,
            &json!({"to": "+33612345678", "text": "after the rotation"}),
        )
        .await;
    assert_eq!(sent.status(), 201);

    // Secrets Manager's alternating users: the secret (JSON, as the sidecar writes it)
    // now names a clone that holds the runtime role's grants through membership.
    admin
        .execute(
            "CREATE ROLE smsgw_api_clone LOGIN PASSWORD 'third-password-89ab'; \
             GRANT smsgw_api TO smsgw_api_clone",
        )
        .await
        .expect("create the clone");
    write_secret(
        &password_file,
        r#"{"engine": "postgres", "host": "127.0.0.1", "username": "smsgw_api_clone", "password": "third-password-89ab", "dbname": "smsgw"}"#,
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    disconnect(&mut admin, "smsgw_api").await;
    eventually_connects_as(&app.db, "smsgw_api_clone").await;
    let sent = app
        .send(&key, &json!({"to": "+33612345678", "text": "as the clone"}))
        .await;
    assert_eq!(sent.status(), 201);
    assert_eq!(app.message_count().await, 3);
}
