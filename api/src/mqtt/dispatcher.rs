//! The dispatcher: claims due send commands and cancel requests from the database
//! ([`store::dispatch`]) and publishes them, QoS 1. Claims are shared by every replica
//! through `FOR UPDATE SKIP LOCKED`, and a claimed command is due again after a backoff
//! until the agent's `accepted` arrives, so a command lost anywhere between the commit
//! and the agent's journal is published again, by whichever replica comes first.
//!
//! It looks for work when woken (a new message, a (re)connection) and at least every
//! [`POLL`]; while the broker is away it claims nothing.

use std::{sync::Arc, time::Duration};

use rumqttc::{AsyncClient, QoS};
use smsgw_shared::{
    ids::{MessageId, SiteId},
    topic::{TopicKind, Topics},
    wire::{self, CancelCommand, V1},
};
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio::sync::watch;

use super::{commands::send_command, link::BrokerStatus};
use crate::store::{self, dispatch::DueCancel};

/// Longest wait between two looks at the queue.
pub const POLL: Duration = Duration::from_secs(1);
/// Commands claimed per transaction.
const BATCH: i64 = 200;

/// Runs until `stop`.
pub async fn run(
    db: PgPool,
    client: AsyncClient,
    topics: Topics,
    window: i64,
    status: Arc<BrokerStatus>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if status.connected() {
            match dispatch_due(&db, &client, &topics, window).await {
                // A full batch: there may be more right away.
                Ok(true) => {
                    tokio::task::yield_now().await;
                    continue;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "dispatch failed; retrying"),
            }
        }
        tokio::select! {
            () = status.woken() => {}
            () = tokio::time::sleep(POLL) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// One round: claims and publishes send commands, then cancel commands. Returns whether
/// a batch was full.
async fn dispatch_due(
    db: &PgPool,
    client: &AsyncClient,
    topics: &Topics,
    window: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let due = store::dispatch::claim_due(&mut tx, BATCH, window).await?;
    tx.commit().await?;
    let now = OffsetDateTime::now_utc();
    for message in &due {
        match send_command(message, now) {
            Ok((site, command)) => {
                let topic = topics.topic(&site, TopicKind::CommandSend);
                // A failed publish is published again when the claim's backoff ends.
                if let Err(e) = client
                    .publish(topic, QoS::AtLeastOnce, false, wire::encode(&command))
                    .await
                {
                    tracing::warn!(error = %e, "cannot publish send commands now");
                    break;
                }
                let attempt = if message.dispatches == 1 {
                    "first"
                } else {
                    "retry"
                };
                metrics::counter!("smsgw_dispatch_published_total", "attempt" => attempt)
                    .increment(1);
                tracing::debug!(message_id = %message.id, %site, dispatches = message.dispatches, "send command published");
            }
            Err(e) => tracing::error!(error = %e, "message left queued"),
        }
    }

    let mut tx = db.begin().await?;
    let cancels = store::dispatch::claim_cancels(&mut tx, BATCH).await?;
    tx.commit().await?;
    for cancel in &cancels {
        if let Err(e) = publish_cancel(client, topics, cancel).await {
            tracing::warn!(error = %e, "cannot publish cancel commands now");
            break;
        }
    }
    Ok(due.len() as i64 == BATCH || cancels.len() as i64 == BATCH)
}

async fn publish_cancel(
    client: &AsyncClient,
    topics: &Topics,
    cancel: &DueCancel,
) -> Result<(), String> {
    let site: SiteId = cancel.site_id.parse().map_err(|e| format!("{e}"))?;
    let id = MessageId::from_uuid(cancel.id).map_err(|e| e.to_string())?;
    let payload = wire::encode(&CancelCommand { v: V1, id });
    client
        .publish(
            topics.topic(&site, TopicKind::CommandCancel),
            QoS::AtLeastOnce,
            false,
            payload,
        )
        .await
        .map_err(|e| e.to_string())?;
    metrics::counter!("smsgw_dispatch_cancels_published_total").increment(1);
    tracing::info!(message_id = %cancel.id, %site, "cancel command published");
    Ok(())
}
