//! `GET /api/v1/sites` and `GET /api/v1/sites/{id}`.

use serde_json::json;

use crate::helpers::{assert_problem, spawn_app, status_json};

#[tokio::test]
async fn sites_are_listed_with_presence_queue_and_modems() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    app.create_site("lyon").await;
    app.set_presence("lyon", "online").await;
    sqlx::query("INSERT INTO modems (site_id, id, state) VALUES ('lyon', 'usb0', $1)")
        .bind(json!({"model": "E3372h", "signal": {"bars": 4}}))
        .execute(&app.db)
        .await
        .expect("modem");
    app.send(
        &key,
        &json!({"phone": "+33612345678", "content": "hi", "site": "main"}),
    )
    .await;

    let (status, body) = status_json(
        app.get(&key, "/api/v1/sites")
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, 200);
    let sites = body["sites"].as_array().expect("sites");
    assert_eq!(sites.len(), 2);
    assert_eq!(
        (sites[0]["id"].as_str(), sites[0]["queue"].as_i64()),
        (Some("lyon"), Some(0))
    );
    assert_eq!(
        (sites[1]["id"].as_str(), sites[1]["queue"].as_i64()),
        (Some("main"), Some(1))
    );
    assert_eq!(sites[0]["modem_count"], 1);

    let (status, lyon) = status_json(
        app.get(&key, "/api/v1/sites/lyon")
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(lyon["presence"], "online");
    assert_eq!(lyon["modems"][0]["id"], "usb0");
    assert_eq!(lyon["modems"][0]["state"]["model"], "E3372h");

    for missing in ["/api/v1/sites/paris", "/api/v1/sites/Not-An-Id"] {
        let r = app.get(&key, missing).send().await.expect("request");
        assert_problem(r, 404, "not_found", None).await;
    }
    let r = app
        .client
        .get(format!("{}/api/v1/sites", app.address))
        .send()
        .await
        .expect("request");
    assert_problem(r, 401, "missing_api_key", None).await;
}

/// `state/modems` reports can be ingested out of order (concurrent ingestion, several
/// replicas): a report older than the one applied, or from an older session, is ignored.
#[tokio::test]
async fn an_older_modems_report_never_overwrites_a_newer_one() {
    let app = spawn_app().await;
    app.create_site("lyon").await;
    let site: smsgw_shared::SiteId = "lyon".parse().expect("site");
    let t0 = time::OffsetDateTime::now_utc();
    let report = |bars: u8| vec![("usb0".to_owned(), json!({"signal": {"bars": bars}}))];
    let apply = |session: i64, at: time::OffsetDateTime, bars: u8| {
        let db = app.db.clone();
        let site = site.clone();
        async move {
            let mut tx = db.begin().await.expect("tx");
            let applied =
                smsgw_api::store::sites::replace_modems(&mut tx, &site, session, at, &report(bars))
                    .await
                    .expect("replace");
            tx.commit().await.expect("commit");
            applied
        }
    };
    let bars = || async {
        sqlx::query_scalar::<_, i32>(
            "SELECT (state->'signal'->>'bars')::int FROM modems WHERE site_id = 'lyon'",
        )
        .fetch_one(&app.db)
        .await
        .expect("modem")
    };
    let second = time::Duration::SECOND;

    assert!(apply(1, t0 + second, 4).await, "the first report");
    assert!(!apply(1, t0, 1).await, "older, same session");
    assert!(!apply(1, t0 + second, 2).await, "the same report again");
    assert_eq!(bars().await, 4);
    assert!(apply(1, t0 + 2 * second, 3).await, "newer, same session");
    assert_eq!(bars().await, 3);
    // A new session wins even when its clock reads earlier.
    assert!(apply(2, t0, 5).await, "new session");
    assert!(!apply(1, t0 + 10 * second, 1).await, "an older session");
    assert_eq!(bars().await, 5);
}
