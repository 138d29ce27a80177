//! The journal on its own: deduplication, forward-only states, the outbox and its acks,
//! inbound fingerprints, and that everything survives closing and reopening.

use std::time::Duration;

use smsgw_agent::journal::{Accepted, Canceled, Journal};
use smsgw_shared::{
    EventId, MessageState, ModemId, TopicKind,
    wire::{self, Failure, FailureCode, InboundEvent, StatusEvent, V1},
};
use time::OffsetDateTime;

use crate::support::send_command;

async fn open(dir: &tempfile::TempDir) -> Journal {
    Journal::open(&dir.path().join("journal.db"))
        .await
        .expect("journal opens")
}

fn statuses(
    events: &[smsgw_agent::journal::OutboxEvent],
) -> Vec<(smsgw_shared::MessageId, MessageState)> {
    events
        .iter()
        .filter(|e| e.kind == TopicKind::EventStatus)
        .map(|e| {
            let s: StatusEvent = wire::decode(&e.payload).expect("valid status");
            (s.id, s.state)
        })
        .collect()
}

#[tokio::test]
async fn a_command_is_stored_once_and_repeats_report_its_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = open(&dir).await;
    let now = OffsetDateTime::now_utc();
    let command = send_command("+33612345678", "hello");
    assert_eq!(
        journal.accept(&command, now).await.ok(),
        Some(Accepted::New)
    );
    assert_eq!(
        journal.accept(&command, now).await.ok(),
        Some(Accepted::Duplicate(MessageState::Accepted))
    );
    let events = journal
        .due_events(now, Duration::from_secs(10), 100)
        .await
        .expect("events");
    assert_eq!(
        statuses(&events),
        vec![(command.id, MessageState::Accepted); 2]
    );
    let counts = journal.state_counts().await.expect("counts");
    assert_eq!(counts.get(&MessageState::Accepted), Some(&1));
}

#[tokio::test]
async fn the_sender_flow_moves_forward_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = open(&dir).await;
    let now = OffsetDateTime::now_utc();
    let modem: ModemId = "m1".parse().expect("id");
    let command = send_command("+33612345678", "hello");
    journal.accept(&command, now).await.expect("accept");
    let next = journal
        .next_for(&modem, now)
        .await
        .expect("next")
        .expect("a command");
    assert_eq!(next.id, command.id);
    let started = journal
        .begin_attempt(&next, &modem, now)
        .await
        .expect("begin")
        .expect("row");
    // A second sender that read the same row finds it taken.
    assert!(
        journal
            .begin_attempt(&next, &"m2".parse().expect("id"), now)
            .await
            .expect("begin")
            .is_none()
    );
    assert!(started.in_doubt && started.attempt == 1 && started.state == MessageState::Sending);
    journal
        .sent(command.id, Some(40001), now)
        .await
        .expect("sent");
    assert_eq!(
        journal.claimed_sent_indices(&modem).await.expect("claimed"),
        vec![40001]
    );
    // A late cancel is too late, and reports the state again.
    assert_eq!(
        journal.cancel(command.id, now).await.ok(),
        Some(Canceled::TooLate(MessageState::Sent))
    );
    let report = journal
        .delivery_report(&modem, "+33612345678", true, now)
        .await
        .expect("report");
    assert_eq!(report, Some(command.id));
    // A second report finds no `sent` message any more.
    assert_eq!(
        journal
            .delivery_report(&modem, "+33612345678", true, now)
            .await
            .ok(),
        Some(None)
    );
    let events = journal
        .due_events(now, Duration::from_secs(10), 100)
        .await
        .expect("events");
    let states: Vec<MessageState> = statuses(&events).into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        states,
        [
            MessageState::Accepted,
            MessageState::Sending,
            MessageState::Sent,
            MessageState::Sent,
            MessageState::Delivered
        ]
    );
    assert!(journal.next_for(&modem, now).await.expect("next").is_none());
}

#[tokio::test]
async fn failures_retry_or_end_and_only_doubtless_commands_leave_their_modem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = open(&dir).await;
    let now = OffsetDateTime::now_utc();
    let (m1, m2): (ModemId, ModemId) = ("m1".parse().expect("id"), "m2".parse().expect("id"));
    let command = send_command("+33612345678", "hello");
    journal.accept(&command, now).await.expect("accept");
    let next = journal
        .next_for(&m1, now)
        .await
        .expect("next")
        .expect("a command");
    journal
        .begin_attempt(&next, &m1, now)
        .await
        .expect("begin")
        .expect("taken");
    let busy = Failure {
        code: FailureCode::ModemUnreachable,
        modem_code: None,
        retryable: true,
        detail: None,
    };
    let later = now + Duration::from_secs(60);
    journal
        .attempt_unknown(command.id, busy.clone(), later, now)
        .await
        .expect("unknown");
    assert!(
        journal.next_for(&m1, now).await.expect("next").is_none(),
        "waits for its retry time"
    );
    let due = journal
        .next_for(&m1, later)
        .await
        .expect("next")
        .expect("due");
    assert!(
        due.in_doubt,
        "still in doubt: the sent box must be searched"
    );
    assert!(
        journal.next_for(&m2, later).await.expect("next").is_none(),
        "an in-doubt send stays on its modem"
    );
    journal
        .attempt_failed(command.id, busy.clone(), Some(now), now)
        .await
        .expect("retry");
    let moved = journal
        .next_for(&m2, now)
        .await
        .expect("next")
        .expect("another modem may take it");
    assert!(!moved.in_doubt);
    let rejected = Failure {
        code: FailureCode::ModemRejected,
        modem_code: Some(113054),
        retryable: false,
        detail: None,
    };
    journal
        .attempt_failed(command.id, rejected, None, now)
        .await
        .expect("fail");
    let row = journal
        .command(command.id)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(row.state, MessageState::Failed);
    assert!(journal.next_for(&m1, later).await.expect("next").is_none());
}

#[tokio::test]
async fn cancel_before_the_command_blocks_it_for_good() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = open(&dir).await;
    let now = OffsetDateTime::now_utc();
    let modem: ModemId = "m1".parse().expect("id");
    let command = send_command("+33612345678", "hello");
    assert_eq!(
        journal.cancel(command.id, now).await.ok(),
        Some(Canceled::Tombstone)
    );
    assert_eq!(
        journal.accept(&command, now).await.ok(),
        Some(Accepted::Duplicate(MessageState::Canceled))
    );
    assert!(journal.next_for(&modem, now).await.expect("next").is_none());
    let other = send_command("+33612345678", "second");
    journal.accept(&other, now).await.expect("accept");
    assert_eq!(
        journal.cancel(other.id, now).await.ok(),
        Some(Canceled::Done)
    );
    assert!(journal.next_for(&modem, now).await.expect("next").is_none());
}

#[tokio::test]
async fn the_outbox_keeps_events_until_acked_and_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = OffsetDateTime::now_utc();
    let ids = {
        let journal = open(&dir).await;
        assert_eq!(journal.next_session().await.ok(), Some(1));
        for i in 0..3 {
            journal
                .accept(&send_command("+33612345678", &format!("m{i}")), now)
                .await
                .expect("accept");
        }
        let due = journal
            .due_events(now, Duration::from_secs(5), 100)
            .await
            .expect("due");
        let ids: Vec<EventId> = due.iter().map(|e| e.event_id).collect();
        journal.mark_published(&ids, now).await.expect("published");
        assert!(
            journal
                .due_events(now, Duration::from_secs(5), 100)
                .await
                .expect("due")
                .is_empty()
        );
        let later = now + Duration::from_secs(6);
        assert_eq!(
            journal
                .due_events(later, Duration::from_secs(5), 100)
                .await
                .expect("due")
                .len(),
            3
        );
        journal.close().await;
        ids
    };
    let journal = open(&dir).await;
    assert_eq!(
        journal.next_session().await.ok(),
        Some(2),
        "the session counter survives"
    );
    assert_eq!(journal.outbox_len().await.ok(), Some(3));
    assert_eq!(journal.ack(&ids[..2]).await.ok(), Some(2));
    assert_eq!(
        journal.ack(&ids[..2]).await.ok(),
        Some(0),
        "acking twice is harmless"
    );
    journal.reset_published().await.expect("reset");
    let due = journal
        .due_events(now, Duration::from_secs(5), 100)
        .await
        .expect("due");
    assert_eq!(
        due.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        ids[2..].to_vec()
    );
}

#[tokio::test]
async fn inbound_messages_are_stored_once_per_fingerprint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = open(&dir).await;
    let now = OffsetDateTime::now_utc();
    let event = |text: &str| InboundEvent {
        v: V1,
        event_id: EventId::new(),
        from: "+33698765432".into(),
        text: text.into(),
        modem: "m1".parse().expect("id"),
        received_at: now,
        segments: 1,
    };
    assert_eq!(
        journal.inbound("40001|a", &event("hi"), now).await.ok(),
        Some(true)
    );
    assert_eq!(
        journal.inbound("40001|a", &event("hi"), now).await.ok(),
        Some(false)
    );
    assert_eq!(
        journal.inbound("40002|a", &event("hi"), now).await.ok(),
        Some(true)
    );
    assert_eq!(journal.outbox_len().await.ok(), Some(2));
    journal
        .prune(now + Duration::from_secs(3600), Duration::from_secs(60))
        .await
        .expect("prune");
    assert_eq!(
        journal.inbound("40001|a", &event("hi"), now).await.ok(),
        Some(true),
        "forgotten after the keep period"
    );
}
