//! The agent's journal: a SQLite database (WAL, `synchronous = FULL`) in the state
//! directory that holds every send command, its state, the events not yet confirmed by
//! the API, and the inbound SMS already reported.
//!
//! It is what makes "no SMS lost, none sent twice" survive a power cut: a command is
//! acknowledged to the broker only after it is committed here, a state change and the event
//! that reports it are committed together, and an event leaves the outbox only when the
//! API's `command/ack` names it. The database has one connection, so every operation is a
//! serial transaction and no two tasks can interleave a read-check-write.
//!
//! Queries are plain `sqlx::query` strings checked by the journal's tests (the compile-time
//! checked macros would need a second offline query cache for SQLite beside the API's).

use std::{collections::HashMap, path::Path, str::FromStr, time::Duration};

use smsgw_shared::{
    EventId, MessageId, MessageState, ModemId, can_advance,
    wire::{self, Failure, FailureCode, InboundEvent, Priority, SendCommand, StatusEvent, V1},
};
use sqlx::{
    Row, SqlitePool,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
};
use time::OffsetDateTime;

/// The journal's migrations, embedded in the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A journal failure: the database could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The SQLite database failed.
    #[error("journal database: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("journal migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row holds a value this version cannot read (a damaged or newer journal).
    #[error("journal row: {0}")]
    Corrupt(String),
}

type Result<T, E = JournalError> = std::result::Result<T, E>;

/// An event waiting in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Its id, which the API acknowledges.
    pub event_id: EventId,
    /// `event/status` or `event/inbound`.
    pub kind: smsgw_shared::TopicKind,
    /// The encoded payload.
    pub payload: Vec<u8>,
}

/// A send command as the journal keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The message.
    pub id: MessageId,
    /// Recipient, E.164.
    pub to: String,
    /// The text.
    pub text: String,
    /// The modem the API asked for, if any.
    pub requested_modem: Option<ModemId>,
    /// The modem that has (or had) it.
    pub modem: Option<ModemId>,
    /// Queue priority.
    pub priority: Priority,
    /// Not to be sent after this.
    pub expires_at: Option<OffsetDateTime>,
    /// Ask for a delivery report.
    pub delivery_report: bool,
    /// Where it is.
    pub state: MessageState,
    /// Send attempts so far.
    pub attempt: u32,
    /// A send-sms may have reached the modem without a known outcome.
    pub in_doubt: bool,
    /// When the last attempt began.
    pub send_started_at: Option<OffsetDateTime>,
}

/// What became of a send command handed to the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// A new message: stored, `accepted` event queued.
    New,
    /// Seen before: nothing sent again; its latest state is reported anew.
    Duplicate(MessageState),
}

/// What became of a cancel command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canceled {
    /// The message will not be sent.
    Done,
    /// Too late: the message is with a modem or finished; its state is reported anew.
    TooLate(MessageState),
    /// The cancel came before its send command: the id is blocked for good.
    Tombstone,
}

/// Milliseconds since the epoch.
fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_ms(v: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn priority_code(p: Priority) -> i64 {
    match p {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
    }
}

fn priority_from(code: i64) -> Priority {
    match code {
        0 => Priority::Low,
        2 => Priority::High,
        _ => Priority::Normal,
    }
}

fn corrupt(what: impl std::fmt::Display) -> JournalError {
    JournalError::Corrupt(what.to_string())
}

fn parse_col<T: FromStr>(row: &SqliteRow, col: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let text: String = row.try_get(col)?;
    text.parse().map_err(|e| corrupt(format!("{col}: {e}")))
}

fn parse_opt<T: FromStr>(row: &SqliteRow, col: &str) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    let text: Option<String> = row.try_get(col)?;
    text.map(|t| t.parse().map_err(|e| corrupt(format!("{col}: {e}"))))
        .transpose()
}

fn command_from_row(row: &SqliteRow) -> Result<Command> {
    Ok(Command {
        id: parse_col(row, "id")?,
        to: row.try_get("recipient")?,
        text: row.try_get("body")?,
        requested_modem: parse_opt(row, "requested_modem")?,
        modem: parse_opt(row, "modem")?,
        priority: priority_from(row.try_get("priority")?),
        expires_at: row.try_get::<Option<i64>, _>("expires_at")?.map(from_ms),
        delivery_report: row.try_get::<i64, _>("delivery_report")? != 0,
        state: parse_col(row, "state")?,
        attempt: u32::try_from(row.try_get::<i64, _>("attempt")?).unwrap_or(0),
        in_doubt: row.try_get::<i64, _>("in_doubt")? != 0,
        send_started_at: row
            .try_get::<Option<i64>, _>("send_started_at")?
            .map(from_ms),
    })
}

const COMMAND_COLUMNS: &str = "id, recipient, body, requested_modem, modem, priority, \
     expires_at, delivery_report, state, attempt, in_doubt, send_started_at";

/// The journal of one agent.
#[derive(Debug, Clone)]
pub struct Journal {
    pool: SqlitePool,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// Counts a new MQTT session and returns its number (1 for the first ever).
    pub async fn next_session(&self) -> Result<u64> {
        let row = sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('mqtt_session', 1)
             ON CONFLICT (key) DO UPDATE SET value = value + 1
             RETURNING value",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(row.try_get::<i64, _>("value")?).unwrap_or(0))
    }

    /// Stores a send command, or recognises it as one seen before.
    ///
    /// A new command is stored with its `accepted` event; a repeated one changes nothing
    /// but queues a fresh event with its latest state, so that the API learns it.
    pub async fn accept(&self, command: &SendCommand, now: OffsetDateTime) -> Result<Accepted> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO commands (id, recipient, body, requested_modem, priority, expires_at,
                 delivery_report, state, accepted_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'accepted', ?8, ?8)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(command.id.to_string())
        .bind(command.to.as_str())
        .bind(command.text.as_str())
        .bind(command.modem.as_ref().map(|m| m.as_str()))
        .bind(priority_code(command.priority))
        .bind(command.expires_at.map(ms))
        .bind(i64::from(command.delivery_report))
        .bind(ms(now))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let outcome = if inserted {
            let event = status_event(command.id, MessageState::Accepted, None, 0, None, now);
            insert_status(&mut tx, &event, now).await?;
            Accepted::New
        } else {
            let current = load(&mut tx, command.id)
                .await?
                .ok_or_else(|| corrupt("a command vanished inside a transaction"))?;
            republish(&mut tx, &current, now).await?;
            Accepted::Duplicate(current.state)
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Cancels a message that no modem has yet.
    pub async fn cancel(&self, id: MessageId, now: OffsetDateTime) -> Result<Canceled> {
        let mut tx = self.pool.begin().await?;
        let outcome = match load(&mut tx, id).await? {
            Some(current) if current.state.is_cancelable() && !current.in_doubt => {
                apply(&mut tx, &current, MessageState::Canceled, None, now).await?;
                Canceled::Done
            }
            Some(current) => {
                republish(&mut tx, &current, now).await?;
                Canceled::TooLate(current.state)
            }
            None => {
                // The cancel overtook its send command: keep the id so that the command,
                // when it comes, finds a canceled message and is never sent.
                sqlx::query(
                    "INSERT INTO commands (id, recipient, body, priority, delivery_report, state,
                         accepted_at, updated_at)
                     VALUES (?1, '', '', 1, 0, 'canceled', ?2, ?2)",
                )
                .bind(id.to_string())
                .bind(ms(now))
                .execute(&mut *tx)
                .await?;
                let event = status_event(id, MessageState::Canceled, None, 0, None, now);
                insert_status(&mut tx, &event, now).await?;
                Canceled::Tombstone
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// The next command for `modem`: its own retries first in priority order, then new
    /// commands that name it or no modem. `None` when there is nothing to do now.
    pub async fn next_for(&self, modem: &ModemId, now: OffsetDateTime) -> Result<Option<Command>> {
        let sql = format!(
            "SELECT {COMMAND_COLUMNS} FROM commands
             WHERE not_before <= ?2
               AND ((state = 'accepted' AND (requested_modem IS NULL OR requested_modem = ?1))
                 OR (state = 'sending' AND (modem = ?1
                       OR (in_doubt = 0 AND requested_modem IS NULL))))
             ORDER BY in_doubt DESC, priority DESC, seq
             LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(modem.as_str())
            .bind(ms(now))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(command_from_row).transpose()
    }

    /// When the next command for `modem` that waits for a retry time becomes due.
    pub async fn next_due(&self, modem: &ModemId) -> Result<Option<OffsetDateTime>> {
        let row = sqlx::query(
            "SELECT MIN(not_before) AS due FROM commands
             WHERE (state = 'accepted' AND (requested_modem IS NULL OR requested_modem = ?1))
                OR (state = 'sending' AND modem = ?1)",
        )
        .bind(modem.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<Option<i64>, _>("due")?.map(from_ms))
    }

    /// A command by id.
    pub async fn command(&self, id: MessageId) -> Result<Option<Command>> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, id).await
    }

    /// The modem begins an attempt on `seen` (the command as `next_for` returned it):
    /// `sending`, attempt + 1, and in doubt from now on until the modem's answer is known.
    ///
    /// Returns `None` when the command changed since it was read (another modem's sender
    /// took it, or it was canceled), so that two senders can never both send it.
    pub async fn begin_attempt(
        &self,
        seen: &Command,
        modem: &ModemId,
        now: OffsetDateTime,
    ) -> Result<Option<Command>> {
        let id = seen.id;
        let mut tx = self.pool.begin().await?;
        let Some(current) = load(&mut tx, id).await? else {
            return Ok(None);
        };
        let unchanged = current.state == seen.state
            && current.attempt == seen.attempt
            && current.modem == seen.modem
            && matches!(
                current.state,
                MessageState::Accepted | MessageState::Sending
            );
        if !unchanged {
            return Ok(None);
        }
        sqlx::query(
            "UPDATE commands SET state = 'sending', modem = ?2, attempt = attempt + 1,
                 in_doubt = 1, send_started_at = ?3, updated_at = ?3
             WHERE id = ?1",
        )
        .bind(id.to_string())
        .bind(modem.as_str())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        let attempt = current.attempt + 1;
        if current.state == MessageState::Accepted {
            let event = status_event(id, MessageState::Sending, Some(modem), attempt, None, now);
            insert_status(&mut tx, &event, now).await?;
        }
        let updated = load(&mut tx, id).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// The attempt ended without the SMS reaching the network, for sure (the modem said
    /// no): the command is no longer in doubt. With `retry_at` it waits for another
    /// attempt; without, it has failed for good.
    pub async fn attempt_failed(
        &self,
        id: MessageId,
        failure: Failure,
        retry_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.end_attempt(id, failure, retry_at, false, now).await
    }

    /// The outcome of the attempt is unknown (the modem stopped answering): the command
    /// stays in doubt and is retried after `retry_at`, once the sent box was searched.
    pub async fn attempt_unknown(
        &self,
        id: MessageId,
        failure: Failure,
        retry_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.end_attempt(id, failure, Some(retry_at), true, now)
            .await
    }

    /// Records how an attempt ended: the error, the retry time, whether the send stays in
    /// doubt, and the event (a retryable `sending`, or `failed` when there is no retry).
    async fn end_attempt(
        &self,
        id: MessageId,
        failure: Failure,
        retry_at: Option<OffsetDateTime>,
        in_doubt: bool,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let Some(current) = load(&mut tx, id).await? else {
            return Ok(());
        };
        sqlx::query(
            "UPDATE commands SET in_doubt = ?2, not_before = ?3, error_code = ?4, modem_code = ?5,
                 error_detail = ?6, updated_at = ?7
             WHERE id = ?1",
        )
        .bind(id.to_string())
        .bind(i64::from(in_doubt))
        .bind(retry_at.map(ms).unwrap_or(0))
        .bind(code_name(failure.code))
        .bind(failure.modem_code)
        .bind(failure.detail.as_deref())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        let current = Command {
            in_doubt,
            ..current
        };
        if retry_at.is_some() {
            // Still `sending`; the event makes the failed attempt visible.
            let failure = Failure {
                retryable: true,
                ..failure
            };
            let event = status_event(
                id,
                current.state,
                current.modem.as_ref(),
                current.attempt,
                Some(failure),
                now,
            );
            insert_status(&mut tx, &event, now).await?;
        } else {
            apply(
                &mut tx,
                &current,
                MessageState::Failed,
                Some(Failure {
                    retryable: false,
                    ..failure
                }),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The network took the SMS. `sent_index` is its entry in the modem's sent box, when
    /// known, so that no later search matches it again.
    pub async fn sent(
        &self,
        id: MessageId,
        sent_index: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let Some(current) = load(&mut tx, id).await? else {
            return Ok(());
        };
        sqlx::query(
            "UPDATE commands SET in_doubt = 0, sent_at = ?2, sent_index = ?3, updated_at = ?2
             WHERE id = ?1",
        )
        .bind(id.to_string())
        .bind(ms(now))
        .bind(sent_index)
        .execute(&mut *tx)
        .await?;
        apply(&mut tx, &current, MessageState::Sent, None, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The command's `expires_at` passed before it reached a modem.
    pub async fn expire(&self, id: MessageId, now: OffsetDateTime) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if let Some(current) = load(&mut tx, id).await? {
            apply(&mut tx, &current, MessageState::Expired, None, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sent-box indices matched to a command on `modem` in the last hour, which a search
    /// for an in-doubt command must not match again. Older entries are gone from the box
    /// (the poller deletes them), and a modem may reuse indices after a reboot.
    pub async fn claimed_sent_indices(&self, modem: &ModemId) -> Result<Vec<i64>> {
        let since = ms(OffsetDateTime::now_utc()) - 3_600_000;
        let rows = sqlx::query(
            "SELECT sent_index FROM commands
             WHERE modem = ?1 AND sent_index IS NOT NULL AND sent_at >= ?2",
        )
        .bind(modem.as_str())
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                r.try_get::<i64, _>("sent_index")
                    .map_err(JournalError::from)
            })
            .collect()
    }

    /// Recipients of commands on `modem` whose send is in doubt: their sent-box entries
    /// must stay until the doubt is resolved.
    pub async fn in_doubt_recipients(&self, modem: &ModemId) -> Result<Vec<String>> {
        self.recipients(
            "SELECT recipient FROM commands WHERE modem = ?1 AND in_doubt = 1",
            modem,
        )
        .await
    }

    /// Recipients of messages `sending` on `modem`: a delivery report for one of them may
    /// overtake the `sent` the sender is about to record.
    pub async fn sending_recipients(&self, modem: &ModemId) -> Result<Vec<String>> {
        self.recipients(
            "SELECT DISTINCT recipient FROM commands WHERE modem = ?1 AND state = 'sending'",
            modem,
        )
        .await
    }

    /// Recipients of `sent` messages on `modem` that wait for a delivery report.
    pub async fn awaiting_report(&self, modem: &ModemId) -> Result<Vec<String>> {
        self.recipients(
            "SELECT DISTINCT recipient FROM commands
             WHERE modem = ?1 AND state = 'sent' AND delivery_report = 1",
            modem,
        )
        .await
    }

    /// The `recipient` column of a query over one modem's commands.
    async fn recipients(&self, sql: &'static str, modem: &ModemId) -> Result<Vec<String>> {
        let rows = sqlx::query(sql)
            .bind(modem.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                r.try_get::<String, _>("recipient")
                    .map_err(JournalError::from)
            })
            .collect()
    }

    /// A delivery report from `recipient` arrived at `modem`: the oldest `sent` message to
    /// that number on that modem that asked for a report becomes delivered or undelivered.
    /// Returns the message, or `None` when no message matches.
    pub async fn delivery_report(
        &self,
        modem: &ModemId,
        recipient: &str,
        delivered: bool,
        now: OffsetDateTime,
    ) -> Result<Option<MessageId>> {
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "SELECT {COMMAND_COLUMNS} FROM commands
             WHERE modem = ?1 AND recipient = ?2 AND state = 'sent' AND delivery_report = 1
             ORDER BY sent_at, seq LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(modem.as_str())
            .bind(recipient)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(current) = row.as_ref().map(command_from_row).transpose()? else {
            return Ok(None);
        };
        let state = if delivered {
            MessageState::Delivered
        } else {
            MessageState::Undelivered
        };
        // The row was selected by this modem, so the event names it.
        apply(&mut tx, &current, state, None, now).await?;
        tx.commit().await?;
        Ok(Some(current.id))
    }

    /// Stores an inbound SMS once per (modem, fingerprint) with its event. Returns false
    /// when it was stored before (read again after a restart).
    pub async fn inbound(
        &self,
        fingerprint: &str,
        event: &InboundEvent,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let fresh = sqlx::query(
            "INSERT INTO inbound (modem, fingerprint, event_id, stored_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (modem, fingerprint) DO NOTHING",
        )
        .bind(event.modem.as_str())
        .bind(fingerprint)
        .bind(event.event_id.to_string())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if fresh {
            insert_outbox(
                &mut tx,
                event.event_id,
                smsgw_shared::TopicKind::EventInbound,
                &wire::encode(event),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(fresh)
    }

    /// Events due for (re-)publishing: never published (in arrival order), then those
    /// published more than `ack_timeout` ago without an ack; at most `limit`.
    pub async fn due_events(
        &self,
        now: OffsetDateTime,
        ack_timeout: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>> {
        let cutoff = ms(now) - i64::try_from(ack_timeout.as_millis()).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            // Two index ranges (never published, in arrival order; then overdue), so the
            // cost does not grow with the length of the outbox.
            "SELECT event_id, kind, payload FROM (
                 SELECT event_id, kind, payload FROM outbox
                 WHERE published_at IS NULL ORDER BY rowid LIMIT ?2)
             UNION ALL
             SELECT event_id, kind, payload FROM (
                 SELECT event_id, kind, payload FROM outbox
                 WHERE published_at <= ?1 ORDER BY published_at LIMIT ?2)
             LIMIT ?2",
        )
        .bind(cutoff)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                let kind = smsgw_shared::TopicKind::ALL
                    .into_iter()
                    .find(|k| k.suffix() == kind)
                    .ok_or_else(|| corrupt(format!("outbox kind {kind:?}")))?;
                Ok(OutboxEvent {
                    event_id: parse_col(row, "event_id")?,
                    kind,
                    payload: row.try_get("payload")?,
                })
            })
            .collect()
    }

    /// Records that events were handed to the MQTT client.
    pub async fn mark_published(&self, ids: &[EventId], now: OffsetDateTime) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for id in ids {
            sqlx::query("UPDATE outbox SET published_at = ?2, publish_count = publish_count + 1 WHERE event_id = ?1")
                .bind(id.to_string())
                .bind(ms(now))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks every unconfirmed event as never published (on a new broker connection).
    pub async fn reset_published(&self) -> Result<()> {
        sqlx::query("UPDATE outbox SET published_at = NULL")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The API committed these events: forget them. Returns how many were still here.
    pub async fn ack(&self, ids: &[EventId]) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let mut removed = 0;
        for id in ids {
            removed += sqlx::query("DELETE FROM outbox WHERE event_id = ?1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// Events not yet confirmed by the API.
    pub async fn outbox_len(&self) -> Result<u64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
    }

    /// Commands waiting for a modem: per requested modem, and under `None` those that
    /// any modem may take.
    pub async fn queue_depths(&self) -> Result<HashMap<Option<ModemId>, u32>> {
        let rows = sqlx::query(
            "SELECT COALESCE(requested_modem, CASE WHEN state = 'sending' THEN modem END) AS m,
                    COUNT(*) AS n
             FROM commands WHERE state IN ('accepted', 'sending') GROUP BY m",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut depths = HashMap::new();
        for row in &rows {
            let modem: Option<ModemId> = parse_opt(row, "m")?;
            let n = u32::try_from(row.try_get::<i64, _>("n")?).unwrap_or(u32::MAX);
            depths.insert(modem, n);
        }
        Ok(depths)
    }

    /// Commands in each state (for metrics and tests).
    pub async fn state_counts(&self) -> Result<HashMap<MessageState, u64>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM commands GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        let mut counts = HashMap::new();
        for row in &rows {
            let state: MessageState = parse_col(row, "state")?;
            counts.insert(
                state,
                u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0),
            );
        }
        Ok(counts)
    }

    /// Forgets finished commands and inbound fingerprints older than `keep`.
    pub async fn prune(&self, now: OffsetDateTime, keep: Duration) -> Result<()> {
        let cutoff = ms(now) - i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
        sqlx::query(
            "DELETE FROM commands WHERE updated_at < ?1
               AND state IN ('delivered', 'undelivered', 'failed', 'expired', 'canceled', 'sent')",
        )
        .bind(cutoff)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM inbound WHERE stored_at < ?1")
            .bind(cutoff)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes the database cleanly (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The stable wire name of a failure code.
fn code_name(code: FailureCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

fn status_event(
    id: MessageId,
    state: MessageState,
    modem: Option<&ModemId>,
    attempt: u32,
    error: Option<Failure>,
    now: OffsetDateTime,
) -> StatusEvent {
    StatusEvent {
        v: V1,
        event_id: EventId::new(),
        id,
        state,
        modem: modem.cloned(),
        at: now,
        attempt,
        error,
    }
}

async fn load(conn: &mut sqlx::SqliteConnection, id: MessageId) -> Result<Option<Command>> {
    let sql = format!("SELECT {COMMAND_COLUMNS} FROM commands WHERE id = ?1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(command_from_row).transpose()
}

async fn insert_outbox(
    conn: &mut sqlx::SqliteConnection,
    event_id: EventId,
    kind: smsgw_shared::TopicKind,
    payload: &[u8],
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query("INSERT INTO outbox (event_id, kind, payload, created_at) VALUES (?1, ?2, ?3, ?4)")
        .bind(event_id.to_string())
        .bind(kind.suffix())
        .bind(payload)
        .bind(ms(now))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn insert_status(
    conn: &mut sqlx::SqliteConnection,
    event: &StatusEvent,
    now: OffsetDateTime,
) -> Result<()> {
    insert_outbox(
        conn,
        event.event_id,
        smsgw_shared::TopicKind::EventStatus,
        &wire::encode(event),
        now,
    )
    .await
}

/// Reports a command's current state again (for a repeated or too-late command).
async fn republish(
    conn: &mut sqlx::SqliteConnection,
    current: &Command,
    now: OffsetDateTime,
) -> Result<()> {
    let event = status_event(
        current.id,
        current.state,
        current.modem.as_ref(),
        current.attempt,
        None,
        now,
    );
    insert_status(conn, &event, now).await
}

/// Moves a command forward (only forward: `can_advance`) and queues the event, which
/// names the command's modem.
async fn apply(
    conn: &mut sqlx::SqliteConnection,
    current: &Command,
    state: MessageState,
    error: Option<Failure>,
    now: OffsetDateTime,
) -> Result<()> {
    if !can_advance(current.state, state) {
        return Ok(());
    }
    sqlx::query("UPDATE commands SET state = ?2, updated_at = ?3 WHERE id = ?1")
        .bind(current.id.to_string())
        .bind(state.as_str())
        .bind(ms(now))
        .execute(&mut *conn)
        .await?;
    let event = status_event(
        current.id,
        state,
        current.modem.as_ref(),
        current.attempt,
        error,
        now,
    );
    insert_status(conn, &event, now).await
}
