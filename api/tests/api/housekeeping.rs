//! Housekeeping deletes what has served its time and keeps the rest.

use serde_json::json;
use smsgw_api::jobs::housekeeping::{Swept, run_once};

use crate::helpers::{spawn_app, status_json};

#[tokio::test]
async fn old_windows_and_records_go_and_current_ones_stay() {
    let app = spawn_app().await;
    let key = app.with_site_and_key().await;
    let r = app
        .client
        .post(format!("{}/api/v1/messages", app.address))
        .header("x-api-key", &key)
        .header("idempotency-key", "fresh")
        .json(&json!({"phone": "+33612345678", "content": "hi", "expires_at": "2999-01-01T00:00:00Z"}))
        .send()
        .await
        .expect("request");
    assert_eq!(status_json(r).await.0, 201);
    let key_id: i64 = sqlx::query_scalar("SELECT id FROM api_keys")
        .fetch_one(&app.db)
        .await
        .expect("key");
    sqlx::query(
        "INSERT INTO rate_limit_windows (key_id, window_start, count)
         VALUES ($1, date_trunc('minute', now()) - interval '5 minutes', 3)",
    )
    .bind(key_id)
    .execute(&app.db)
    .await
    .expect("old window");
    sqlx::query(
        "INSERT INTO idempotency_records (key_id, idempotency_key, request_hash, created_at)
         VALUES ($1, 'old', '\\x00', now() - interval '2 days')",
    )
    .bind(key_id)
    .execute(&app.db)
    .await
    .expect("old record");

    sqlx::query(
        "INSERT INTO login_attempts (kind, subject, failures, last_at)
         VALUES ('user', 'old', 3, now() - interval '2 days'), ('user', 'recent', 3, now())",
    )
    .execute(&app.db)
    .await
    .expect("login counters");
    app.create_admin("root", "correct horse battery staple")
        .await;
    sqlx::query(
        "INSERT INTO admin_sessions (id, username, csrf_hash, expires_at)
         VALUES (gen_random_uuid(), 'root', sha256('a'), now() - interval '2 days'),
                (gen_random_uuid(), 'root', sha256('b'), now() + interval '1 hour')",
    )
    .execute(&app.db)
    .await
    .expect("sessions");

    let swept = run_once(&app.db).await.expect("housekeeping");
    assert_eq!(
        swept,
        Swept {
            expired: 0,
            windows: 1,
            idempotency_records: 1,
            login_counters: 1,
            sessions: 1,
        }
    );
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM idempotency_records WHERE idempotency_key = 'fresh'",
    )
    .fetch_one(&app.db)
    .await
    .expect("count");
    assert_eq!(left, 1);
    assert_eq!(
        run_once(&app.db).await.expect("housekeeping"),
        Swept::default()
    );
}
