//! Group commit: concurrent sends share transactions, yet each request gets its own answer,
//! the rate limit stays exact inside a batch, and a request that breaks its batch's
//! statements does not take the others down with it.

use std::collections::BTreeSet;

use serde_json::json;
use smsgw_api::{
    domain::{
        api_key::{ApiKeySecret, KeyPepper},
        new_message::{NewMessage, SendMessageRequest},
    },
    http::{
        accept::{Accepted, Outcome, Submission, accept_batch},
        error::ApiError,
    },
};
use time::OffsetDateTime;

use crate::helpers::{PEPPER, TestApp, clear_of_the_minute_turn, spawn_app};

/// `n` concurrent sends with `key`; their statuses and `X-RateLimit-Remaining` values.
async fn send_concurrently(app: &TestApp, key: &str, n: usize) -> Vec<(u16, u32)> {
    let body = json!({"phone": "+33612345678", "content": "together"});
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let request = app
                .client
                .post(format!("{}/api/v1/messages", app.address))
                .header("x-api-key", key)
                .json(&body)
                .send();
            tokio::spawn(async move {
                let r = request.await.expect("request");
                let remaining = r.headers()["x-ratelimit-remaining"]
                    .to_str()
                    .expect("ascii")
                    .parse()
                    .expect("number");
                (r.status().as_u16(), remaining)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    answers
}

#[tokio::test]
async fn concurrent_sends_get_the_budget_exactly_and_their_own_remaining_counts() {
    let app = spawn_app().await;
    app.create_site("main").await;
    let key = app.create_key(20, None).await;
    clear_of_the_minute_turn().await;
    let answers = send_concurrently(&app, &key, 30).await;

    let accepted: BTreeSet<u32> = answers
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, remaining)| *remaining)
        .collect();
    // Twenty accepted, each shown its own place in the window, as if they came in turn.
    assert_eq!(accepted, (0..20).collect(), "{answers:?}");
    assert_eq!(
        answers.iter().filter(|(status, _)| *status == 429).count(),
        10,
        "{answers:?}"
    );
    assert_eq!(app.message_count().await, 20);
    let spent: i32 = sqlx::query_scalar("SELECT count FROM rate_limit_windows")
        .fetch_one(&app.db)
        .await
        .expect("window");
    assert_eq!(spent, 20);
    // The batch's key lookup notes the key's use, as the middleware does for other routes.
    let used: Option<OffsetDateTime> = sqlx::query_scalar("SELECT last_used_at FROM api_keys")
        .fetch_one(&app.db)
        .await
        .expect("key");
    assert!(used.is_some());
}

/// The HMAC of a key, as the handler hands it to the batch.
fn key_hash(key: &str) -> Vec<u8> {
    let pepper = KeyPepper::new(PEPPER).expect("pepper");
    pepper.hash(&ApiKeySecret::parse(key).expect("a key"))
}

fn submission(key: &str, body: serde_json::Value, idempotency: Option<&str>) -> Submission {
    let request: SendMessageRequest = serde_json::from_value(body.clone()).expect("request");
    Submission {
        key_hash: key_hash(key),
        idempotency: idempotency.map(|k| (k.to_owned(), body.to_string().into_bytes())),
        message: NewMessage::parse(request, None, OffsetDateTime::now_utc()),
    }
}

fn created(outcome: &Outcome) -> bool {
    matches!(outcome.answer, Ok(Accepted::Created { .. })) && outcome.key.is_some()
}

#[tokio::test]
async fn one_batch_answers_each_request_for_itself() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let revoked = app.create_key(10, None).await;
    sqlx::query("UPDATE api_keys SET revoked_at = now() WHERE id = (SELECT max(id) FROM api_keys)")
        .execute(&app.db)
        .await
        .expect("revoke");
    let unknown = "sk_live_00000000000000000000000000000000";
    let good = json!({"phone": "+33612345678", "content": "fine"});
    let earlier = accept_batch(&app.db, &[submission(&key, good.clone(), Some("seen"))]).await;
    assert!(created(&earlier[0]), "{earlier:?}");

    let outcomes = accept_batch(
        &app.db,
        &[
            submission(&key, good.clone(), None),
            submission(&key, json!({"phone": "12", "content": "x"}), Some("bad")),
            submission(&key, good.clone(), Some("seen")),
            submission(
                &key,
                json!({"phone": "+33612345678", "content": "other"}),
                Some("seen"),
            ),
            submission(
                &key,
                json!({"phone": "+33612345678", "content": "x", "site": "nowhere"}),
                Some("lost"),
            ),
            submission(&key, good.clone(), Some("new")),
            submission(unknown, good.clone(), None),
            submission(&revoked, good.clone(), Some("new")),
        ],
    )
    .await;
    let answers: Vec<_> = outcomes.iter().map(|o| &o.answer).collect();
    assert!(created(&outcomes[0]), "{outcomes:?}");
    assert!(matches!(answers[1], Err(ApiError::InvalidBody(e)) if e.code == "invalid_phone"));
    assert!(matches!(answers[2], Ok(Accepted::Replay { status, .. }) if status.as_u16() == 201));
    assert!(matches!(answers[3], Err(ApiError::IdempotencyConflict)));
    assert!(matches!(answers[4], Err(ApiError::InvalidBody(e)) if e.code == "unknown_site"));
    assert!(created(&outcomes[5]), "{outcomes:?}");
    assert!(matches!(answers[6], Err(ApiError::InvalidApiKey)));
    assert!(matches!(answers[7], Err(ApiError::RevokedApiKey)));
    // Known keys come back for the rate-limit headers; the others do not.
    let known: Vec<bool> = outcomes.iter().map(|o| o.key.is_some()).collect();
    assert_eq!(known, [true, true, true, true, true, true, false, false]);
    assert_eq!(app.message_count().await, 3);

    // The refused requests left their idempotency keys free.
    let records: Vec<String> =
        sqlx::query_scalar("SELECT idempotency_key FROM idempotency_records ORDER BY 1")
            .fetch_all(&app.db)
            .await
            .expect("records");
    assert_eq!(records, ["new", "seen"]);
    let again = accept_batch(&app.db, &[submission(&key, good, Some("bad"))]).await;
    assert!(created(&again[0]), "{again:?}");
}

#[tokio::test]
async fn a_request_that_breaks_the_batch_fails_alone() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let body = json!({"phone": "+33612345678", "content": "fine"});
    // A valid request the database refuses (a trigger stands for any such refusal): the
    // batch's insert fails, and the batch is tried again one request at a time.
    for statement in [
        "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.content = 'boom' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON messages
         FOR EACH ROW EXECUTE FUNCTION refuse_boom()",
    ] {
        sqlx::query(statement)
            .execute(&app.db)
            .await
            .expect("trigger");
    }
    let unstorable = json!({"phone": "+33612345678", "content": "boom"});
    let outcomes = accept_batch(
        &app.db,
        &[
            submission(&key, body.clone(), None),
            submission(&key, unstorable, None),
            submission(&key, body, None),
        ],
    )
    .await;
    assert!(created(&outcomes[0]), "{outcomes:?}");
    assert!(
        matches!(outcomes[1].answer, Err(ApiError::Database(_))),
        "{outcomes:?}"
    );
    assert!(created(&outcomes[2]), "{outcomes:?}");
    assert_eq!(app.message_count().await, 2);
}

#[tokio::test]
async fn a_batch_that_cannot_reach_the_database_is_refused_at_once_with_503() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let body = json!({"phone": "+33612345678", "content": "fine"});
    // A pool that is closed stands for a database out of reach.
    let closed = app.db.clone();
    closed.close().await;
    let outcomes = accept_batch(
        &closed,
        &[
            submission(&key, body.clone(), None),
            submission(&key, body, Some("retry-me")),
        ],
    )
    .await;
    for outcome in &outcomes {
        let Err(e) = &outcome.answer else {
            panic!("{outcomes:?}")
        };
        assert!(
            matches!(e, ApiError::DatabaseUnavailable(_)),
            "{outcomes:?}"
        );
        assert_eq!(e.parts().0.as_u16(), 503);
        assert_eq!(e.parts().1, "database_unavailable");
    }
}

#[tokio::test]
async fn a_batch_larger_than_what_is_left_gets_exactly_the_rest() {
    let app = spawn_app().await;
    app.create_site("main").await;
    let key = app.create_key(4, None).await;
    let body = json!({"phone": "+33612345678", "content": "hi"});
    clear_of_the_minute_turn().await;
    let first = accept_batch(&app.db, &[submission(&key, body.clone(), None)]).await;
    assert!(created(&first[0]), "{first:?}");

    let batch: Vec<Submission> = (0..5)
        .map(|_| submission(&key, body.clone(), None))
        .collect();
    let outcomes = accept_batch(&app.db, &batch).await;
    let remaining: Vec<Option<u32>> = outcomes
        .iter()
        .map(|o| match &o.answer {
            Ok(Accepted::Created { rate, .. }) => Some(rate.remaining),
            Err(ApiError::RateLimited(rate)) => {
                assert_eq!(rate.remaining, 0);
                None
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(remaining, [Some(2), Some(1), Some(0), None, None]);
    // The refused messages left nothing behind, not even their history.
    assert_eq!(app.message_count().await, 4);
    let (events, spent): (i64, i32) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM message_events), (SELECT count FROM rate_limit_windows)",
    )
    .fetch_one(&app.db)
    .await
    .expect("counts");
    assert_eq!((events, spent), (4, 4));
}
