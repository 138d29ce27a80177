//! Rate limits: exact, in PostgreSQL, shared by every app instance on the database.

use serde_json::json;

use crate::helpers::{assert_problem, clear_of_the_minute_turn, spawn_app, spawn_app_on};

#[tokio::test]
async fn the_limit_refuses_with_429_and_headers() {
    let app = spawn_app().await;
    app.create_site("main").await;
    let key = app.create_key(2, None).await;
    let body = json!({"phone": "+33612345678", "content": "hi"});
    clear_of_the_minute_turn().await;
    for remaining in ["1", "0"] {
        let r = app.send(&key, &body).await;
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["x-ratelimit-limit"], "2");
        assert_eq!(r.headers()["x-ratelimit-remaining"], remaining);
        let reset: u64 = r.headers()["x-ratelimit-reset"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("number");
        assert!((1..=60).contains(&reset), "{reset}");
    }
    let r = app.send(&key, &body).await;
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_problem(r, 429, "rate_limited", None).await;
    assert_eq!(app.message_count().await, 2);

    // Reading is not limited but shows the budget.
    let r = app
        .get(&key, "/api/v1/messages")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
}

#[tokio::test]
async fn two_instances_share_one_limit() {
    let first = spawn_app().await;
    let second = spawn_app_on(&first.db_url).await;
    first.create_site("main").await;
    let key = first.create_key(4, None).await;
    let body = json!({"phone": "+33612345678", "content": "hi"});
    clear_of_the_minute_turn().await;
    // Concurrent sends on both instances: exactly the limit gets through.
    let sends = (0..10).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        app.send(&key, &body)
    });
    let statuses: Vec<u16> = futures_statuses(sends).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        6,
        "{statuses:?}"
    );
    assert_eq!(first.message_count().await, 4);
}

async fn futures_statuses(
    sends: impl Iterator<Item = impl std::future::Future<Output = reqwest::Response>>,
) -> Vec<u16> {
    let handles: Vec<_> = sends.collect();
    let mut statuses = Vec::new();
    for r in join_all(handles).await {
        statuses.push(r.status().as_u16());
    }
    statuses
}

/// Runs futures concurrently (no extra crate needed for ten requests).
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
