//! The test support itself: server discovery, URLs, the throwaway cluster and the
//! databases made per test.

use smsgw_testpg::{Discovery, ThrowawayCluster, discovery, with_database};
use sqlx::{Connection, PgConnection};

#[test]
fn discovery_prefers_the_forced_mode_then_the_url_then_the_local_server() {
    let url = Some("postgres://u@h/db".to_owned());
    assert_eq!(
        discovery(url.clone(), Some("throwaway".into()), true),
        Discovery::Throwaway
    );
    assert_eq!(
        discovery(url.clone(), None, true),
        Discovery::Url("postgres://u@h/db".into())
    );
    assert_eq!(discovery(None, None, true), Discovery::Local);
    assert_eq!(discovery(Some(String::new()), None, true), Discovery::Local);
    assert_eq!(discovery(None, None, false), Discovery::Throwaway);
}

#[test]
fn database_is_replaced_in_urls() {
    assert_eq!(
        with_database("postgres://u@h:1/postgres", "t"),
        "postgres://u@h:1/t"
    );
    assert_eq!(with_database("postgres://u@h:1", "t"), "postgres://u@h:1/t");
    assert_eq!(
        with_database("postgres://u@h/db?sslmode=disable", "t"),
        "postgres://u@h/t?sslmode=disable"
    );
}

/// Makes a cluster with initdb, connects to it, and removes it.
#[tokio::test]
async fn throwaway_cluster_starts_and_accepts_connections() {
    let cluster = ThrowawayCluster::start().unwrap_or_else(|e| panic!("{e}"));
    assert!(cluster.data_dir().join("PG_VERSION").is_file());
    let mut conn = PgConnection::connect(&cluster.url())
        .await
        .expect("connect");
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .expect("query");
    assert_eq!(one, 1);
    conn.close().await.expect("close");
    let dir = cluster.data_dir().to_owned();
    drop(cluster);
    assert!(!dir.exists(), "the cluster's files are removed");
}

/// A database made per test exists on the server, and dropping it removes it.
#[tokio::test]
async fn a_test_database_is_created_and_dropped() {
    let (name, url) = smsgw_testpg::create_database("smsgw_testpg_")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        name.starts_with("smsgw_testpg_") && url.ends_with(&name),
        "{name} {url}"
    );
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let current: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut conn)
        .await
        .expect("query");
    assert_eq!(current, name);
    conn.close().await.expect("close");
    smsgw_testpg::drop_database(&name).await;
    let server = smsgw_testpg::server_url().expect("server");
    let mut admin = PgConnection::connect(server).await.expect("connect");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .expect("query");
    assert_eq!(left, 0);
}
