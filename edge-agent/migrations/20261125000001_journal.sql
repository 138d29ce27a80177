-- The agent's journal: everything it must not forget across a power cut.
-- Times are milliseconds since the Unix epoch (UTC).

-- Counters that survive restarts (the MQTT session counter).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);

-- Send commands, one row per message id: a repeated command finds its row and never
-- sends again. `seq` keeps arrival order for FIFO within a priority.
CREATE TABLE commands (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    recipient       TEXT NOT NULL,
    body            TEXT NOT NULL,
    requested_modem TEXT,
    modem           TEXT,
    priority        INTEGER NOT NULL,
    expires_at      INTEGER,
    delivery_report INTEGER NOT NULL,
    state           TEXT NOT NULL,
    attempt         INTEGER NOT NULL DEFAULT 0,
    not_before      INTEGER NOT NULL DEFAULT 0,
    -- 1 while a send-sms may have reached the modem without our knowing the outcome:
    -- such a command is looked up in the modem's sent box before any retry.
    in_doubt        INTEGER NOT NULL DEFAULT 0,
    send_started_at INTEGER,
    sent_at         INTEGER,
    sent_index      INTEGER,
    error_code      TEXT,
    modem_code      INTEGER,
    error_detail    TEXT,
    accepted_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX commands_queue ON commands (state, priority DESC, seq);
CREATE INDEX commands_reports ON commands (modem, recipient, state, sent_at);

-- Events not yet confirmed by the API's command/ack; re-published until they are.
CREATE TABLE outbox (
    event_id      TEXT PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL,
    payload       BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    published_at  INTEGER,
    publish_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (published_at);

-- Inbound SMS already turned into events, so that a message read again (because the
-- agent stopped before deleting it from the modem) is not reported twice.
CREATE TABLE inbound (
    modem       TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    stored_at   INTEGER NOT NULL,
    PRIMARY KEY (modem, fingerprint)
);
CREATE INDEX inbound_age ON inbound (stored_at);
