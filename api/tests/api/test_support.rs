//! The test support itself: server discovery and the throwaway cluster.

use sqlx::{Connection, PgConnection};

use crate::helpers::{Discovery, ThrowawayCluster, discovery, with_database};

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
