//! The dispatch queue (store side of the re-dispatch loop): claims are shared between
//! instances without overlap, repeat with backoff until the agent accepts, and expire
//! what never left the API.

use serde_json::json;
use smsgw_api::store::{
    dispatch::{DueCancel, claim_cancels, claim_due, expire_undispatched},
    events::{apply_presence, apply_status},
};
use smsgw_shared::{
    ids::{EventId, MessageId},
    state::MessageState,
    wire::{StatusEvent, V1},
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, spawn_app_on, status_json};

async fn send(app: &TestApp, key: &str, priority: i64) -> Uuid {
    let body = json!({"phone": "+33612345678", "content": "hi", "priority": priority});
    let (status, body) = status_json(app.send(key, &body).await).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().expect("id").parse().expect("uuid")
}

async fn make_due(app: &TestApp) {
    sqlx::query("UPDATE messages SET next_dispatch_at = now() - interval '1 second' WHERE next_dispatch_at IS NOT NULL")
        .execute(&app.db)
        .await
        .expect("update");
}

async fn history(app: &TestApp, id: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT state FROM message_events WHERE message_id = $1 ORDER BY at, event_id",
    )
    .bind(id)
    .fetch_all(&app.db)
    .await
    .expect("history")
}

#[tokio::test]
async fn a_message_is_redispatched_with_backoff_until_accepted() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    app.set_presence("main", "online").await;
    let low = send(&app, &key, 0).await;
    let high = send(&app, &key, 9).await;
    let mut conn = app.db.acquire().await.expect("connection");

    let claimed = claim_due(&mut conn, 10, 1000).await.expect("claim");
    let ids: Vec<Uuid> = claimed.iter().map(|m| m.id).collect();
    assert_eq!(ids, [high, low], "highest priority first");
    assert_eq!(claimed[0].site_id.as_deref(), Some("main"));
    assert_eq!(claimed[0].dispatches, 1);
    assert!(
        claim_due(&mut conn, 10, 1000)
            .await
            .expect("claim")
            .is_empty(),
        "not due again yet"
    );

    make_due(&app).await;
    let again = claim_due(&mut conn, 10, 1000).await.expect("claim");
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|m| m.dispatches == 2));
    assert_eq!(
        history(&app, low).await,
        ["queued", "dispatched"],
        "dispatched is recorded once"
    );
    let delay: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM next_dispatch_at - now())::float8 FROM messages WHERE id = $1",
    )
    .bind(low)
    .fetch_one(&mut *conn)
    .await
    .expect("delay");
    assert!(
        (15.0..=20.0).contains(&delay),
        "second retry after 20 s, got {delay}"
    );

    report(&mut conn, low, MessageState::Accepted).await;
    make_due(&app).await;
    let ids: Vec<Uuid> = claim_due(&mut conn, 10, 1000)
        .await
        .expect("claim")
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, [high], "an accepted message is not dispatched again");
}

#[tokio::test]
async fn two_instances_claim_disjoint_work() {
    let first = spawn_app().await;
    let second = spawn_app_on(&first.db_url).await;
    let key = first.with_site_and_key().await;
    first.set_presence("main", "online").await;
    for _ in 0..20 {
        send(&first, &key, 0).await;
    }
    let mut tx1 = first.db.begin().await.expect("begin");
    let mut tx2 = second.db.begin().await.expect("begin");
    let a = claim_due(&mut tx1, 15, 1000).await.expect("claim");
    let b = claim_due(&mut tx2, 15, 1000).await.expect("claim");
    tx1.commit().await.expect("commit");
    tx2.commit().await.expect("commit");
    assert_eq!((a.len(), b.len()), (15, 5));
    let mut all: Vec<Uuid> = a.iter().chain(b.iter()).map(|m| m.id).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 20, "no message claimed twice");
}

#[tokio::test]
async fn messages_that_never_left_expire_and_dispatched_ones_wait_for_the_agent() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    app.set_presence("main", "online").await;
    let waiting = send(&app, &key, 0).await;
    let dispatched = send(&app, &key, 0).await;
    sqlx::query("UPDATE messages SET status = 'dispatched' WHERE id = $1")
        .bind(dispatched)
        .execute(&app.db)
        .await
        .expect("update");
    sqlx::query("UPDATE messages SET expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .expect("update");
    let mut conn = app.db.acquire().await.expect("connection");
    assert_eq!(expire_undispatched(&mut conn).await.expect("expire"), 1);
    assert_eq!(history(&app, waiting).await, ["queued", "expired"]);
    let ids: Vec<Uuid> = claim_due(&mut conn, 10, 1000)
        .await
        .expect("claim")
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(
        ids,
        [dispatched],
        "the agent decides about a message it may have"
    );
}

#[tokio::test]
async fn offline_sites_keep_their_messages_and_each_site_gets_a_window() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    for _ in 0..5 {
        send(&app, &key, 0).await;
    }
    let mut conn = app.db.acquire().await.expect("connection");
    for presence in ["unknown", "offline"] {
        app.set_presence("main", presence).await;
        assert!(
            claim_due(&mut conn, 10, 1000)
                .await
                .expect("claim")
                .is_empty(),
            "nothing goes to a site that is {presence}"
        );
    }
    app.set_presence("main", "online").await;
    assert_eq!(claim_due(&mut conn, 10, 2).await.expect("claim").len(), 2);
    assert!(
        claim_due(&mut conn, 10, 2).await.expect("claim").is_empty(),
        "two commands wait for the agent: the window is full"
    );
    let first = claimed_ids(&app).await;
    report(&mut conn, first[0], MessageState::Accepted).await;
    assert_eq!(
        claim_due(&mut conn, 10, 2).await.expect("claim").len(),
        1,
        "an accepted command frees its place"
    );
}

async fn claimed_ids(app: &TestApp) -> Vec<Uuid> {
    sqlx::query_scalar("SELECT id FROM messages WHERE status = 'dispatched' ORDER BY id")
        .fetch_all(&app.db)
        .await
        .expect("ids")
}

/// Applies what the agent of site `main` reports about a message.
async fn report(conn: &mut sqlx::PgConnection, id: Uuid, state: MessageState) {
    let event = StatusEvent {
        v: V1,
        event_id: EventId::new(),
        id: MessageId::from_uuid(id).expect("v7"),
        state,
        modem: None,
        at: OffsetDateTime::now_utc(),
        attempt: 0,
        error: None,
    };
    let site = "main".parse().expect("site");
    apply_status(conn, &site, &event).await.expect("apply");
}

#[tokio::test]
async fn an_agent_coming_online_gets_its_unaccepted_commands_at_once() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    app.set_presence("main", "online").await;
    let id = send(&app, &key, 0).await;
    let mut conn = app.db.acquire().await.expect("connection");
    assert_eq!(claim_due(&mut conn, 10, 100).await.expect("claim").len(), 1);
    assert!(
        claim_due(&mut conn, 10, 100)
            .await
            .expect("claim")
            .is_empty()
    );
    let site: smsgw_shared::ids::SiteId = "main".parse().expect("site");
    let online = |session| smsgw_shared::wire::ConnState {
        v: V1,
        state: smsgw_shared::wire::Presence::Online,
        session,
        agent_version: "test".into(),
        at: OffsetDateTime::now_utc(),
    };
    assert!(
        apply_presence(&mut conn, &site, &online(2))
            .await
            .expect("presence")
    );
    let again = claim_due(&mut conn, 10, 100).await.expect("claim");
    assert_eq!(again.iter().map(|m| m.id).collect::<Vec<_>>(), [id]);
    assert!(
        !apply_presence(&mut conn, &site, &online(1))
            .await
            .expect("presence"),
        "an older session changes nothing"
    );
    assert!(
        claim_due(&mut conn, 10, 100)
            .await
            .expect("claim")
            .is_empty()
    );
}

#[tokio::test]
async fn a_cancel_request_is_published_until_the_agent_settles_the_message() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    app.set_presence("main", "online").await;
    let id = send(&app, &key, 0).await;
    let mut conn = app.db.acquire().await.expect("connection");
    claim_due(&mut conn, 10, 100).await.expect("claim");
    let (status, body) = status_json(app.cancel(&key, id).await).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (202, Some("dispatched")),
        "{body}"
    );
    assert_eq!(
        history(&app, id).await,
        ["queued", "dispatched", "cancel_requested"]
    );
    let cancels = claim_cancels(&mut conn, 10).await.expect("cancels");
    assert_eq!(
        cancels,
        [DueCancel {
            id,
            site_id: "main".into()
        }]
    );
    assert!(
        claim_cancels(&mut conn, 10)
            .await
            .expect("cancels")
            .is_empty()
    );
    make_due(&app).await;
    assert!(
        claim_due(&mut conn, 10, 100)
            .await
            .expect("claim")
            .is_empty(),
        "a message being canceled is not sent again"
    );
    sqlx::query("UPDATE cancel_requests SET next_at = now()")
        .execute(&app.db)
        .await
        .expect("due");
    assert_eq!(
        claim_cancels(&mut conn, 10).await.expect("cancels").len(),
        1
    );

    report(&mut conn, id, MessageState::Canceled).await;
    sqlx::query("UPDATE cancel_requests SET next_at = now()")
        .execute(&app.db)
        .await
        .expect("due");
    assert!(
        claim_cancels(&mut conn, 10)
            .await
            .expect("cancels")
            .is_empty()
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM cancel_requests")
        .fetch_one(&app.db)
        .await
        .expect("count");
    assert_eq!(left, 0, "a settled request is deleted");
}
