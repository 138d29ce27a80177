//! Group commit: concurrent sends share transactions, yet each request gets its own answer,
//! the rate limit stays exact inside a batch, and a request that breaks its batch's
//! statements does not take the others down with it.

use std::collections::BTreeSet;

use serde_json::json;
use smsgw_api::{
    domain::new_message::{NewMessage, SendMessageRequest},
    http::{
        accept::{Accepted, Submission, accept_batch},
        auth::AuthenticatedKey,
        error::ApiError,
    },
};
use time::OffsetDateTime;

use crate::helpers::{TestApp, spawn_app};

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
}

/// The key row of the app's only API key, as the middleware would pass it on.
async fn only_key(app: &TestApp) -> AuthenticatedKey {
    let (id, prefix, rate_limit): (i64, String, i32) =
        sqlx::query_as("SELECT id, prefix, rate_limit FROM api_keys")
            .fetch_one(&app.db)
            .await
            .expect("key");
    AuthenticatedKey {
        id,
        prefix,
        rate_limit,
        default_site: None,
    }
}

fn submission(
    key: &AuthenticatedKey,
    body: serde_json::Value,
    idempotency: Option<&str>,
) -> Submission {
    let request: SendMessageRequest = serde_json::from_value(body.clone()).expect("request");
    Submission {
        key: key.clone(),
        idempotency: idempotency.map(|k| (k.to_owned(), body.to_string().into_bytes())),
        message: NewMessage::parse(request, None, OffsetDateTime::now_utc()),
    }
}

#[tokio::test]
async fn one_batch_answers_each_request_for_itself() {
    let app = spawn_app().await;
    app.with_site_and_key().await;
    let key = only_key(&app).await;
    let good = json!({"phone": "+33612345678", "content": "fine"});
    let earlier = accept_batch(&app.db, &[submission(&key, good.clone(), Some("seen"))]).await;
    assert!(matches!(earlier[..], [Ok(Accepted::Created { .. })]));

    let answers = accept_batch(
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
        ],
    )
    .await;
    assert!(
        matches!(answers[0], Ok(Accepted::Created { .. })),
        "{answers:?}"
    );
    assert!(matches!(&answers[1], Err(ApiError::InvalidBody(e)) if e.code == "invalid_phone"));
    assert!(matches!(&answers[2], Ok(Accepted::Replay { status, .. }) if status.as_u16() == 201));
    assert!(matches!(answers[3], Err(ApiError::IdempotencyConflict)));
    assert!(matches!(&answers[4], Err(ApiError::InvalidBody(e)) if e.code == "unknown_site"));
    assert!(matches!(answers[5], Ok(Accepted::Created { .. })));
    assert_eq!(app.message_count().await, 3);

    // The refused requests left their idempotency keys free.
    let records: Vec<String> =
        sqlx::query_scalar("SELECT idempotency_key FROM idempotency_records ORDER BY 1")
            .fetch_all(&app.db)
            .await
            .expect("records");
    assert_eq!(records, ["new", "seen"]);
    let again = accept_batch(&app.db, &[submission(&key, good, Some("bad"))]).await;
    assert!(matches!(again[..], [Ok(Accepted::Created { .. })]));
}

#[tokio::test]
async fn a_request_that_breaks_the_batch_fails_alone() {
    let app = spawn_app().await;
    app.with_site_and_key().await;
    let key = only_key(&app).await;
    // A key deleted since it was authenticated: its rows break the batch's statements.
    let gone = AuthenticatedKey {
        id: key.id + 1000,
        ..key.clone()
    };
    let body = json!({"phone": "+33612345678", "content": "fine"});
    let answers = accept_batch(
        &app.db,
        &[
            submission(&key, body.clone(), None),
            submission(&gone, body.clone(), None),
            submission(&key, body, None),
        ],
    )
    .await;
    assert!(
        matches!(answers[0], Ok(Accepted::Created { .. })),
        "{answers:?}"
    );
    assert!(
        matches!(answers[1], Err(ApiError::Database(_))),
        "{answers:?}"
    );
    assert!(
        matches!(answers[2], Ok(Accepted::Created { .. })),
        "{answers:?}"
    );
    assert_eq!(app.message_count().await, 2);
}

#[tokio::test]
async fn a_batch_larger_than_what_is_left_gets_exactly_the_rest() {
    let app = spawn_app().await;
    app.create_site("main").await;
    app.create_key(4, None).await;
    let key = only_key(&app).await;
    let body = json!({"phone": "+33612345678", "content": "hi"});
    let first = accept_batch(&app.db, &[submission(&key, body.clone(), None)]).await;
    assert!(matches!(first[..], [Ok(Accepted::Created { .. })]));

    let batch: Vec<Submission> = (0..5)
        .map(|_| submission(&key, body.clone(), None))
        .collect();
    let answers = accept_batch(&app.db, &batch).await;
    let remaining: Vec<Option<u32>> = answers
        .iter()
        .map(|a| match a {
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
