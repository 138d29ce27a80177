-- The API database of smsgw: everything a stateless API replica needs to answer any
-- request. Text columns with CHECK constraints (not PostgreSQL enums) hold the closed
-- vocabularies, so adding a state later is one ALTER of a constraint.

-- Branch sites and what their agents last told us.
CREATE TABLE sites (
    id            text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{1,32}$'),
    presence      text NOT NULL DEFAULT 'unknown'
                  CHECK (presence IN ('online', 'offline', 'unknown')),
    -- The agent's session counter from state/conn: a Will of an older session must not
    -- mark a newer session offline.
    session       bigint NOT NULL DEFAULT 0,
    agent_version text,
    last_seen     timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Modems of a site, with the last state/modems entry the agent published for each.
CREATE TABLE modems (
    site_id    text NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id         text NOT NULL CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
    state      jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, id)
);

-- API keys: only HMAC-SHA256(pepper, key) is kept, with a short visible prefix so that
-- operators can tell keys apart.
CREATE TABLE api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prefix       text NOT NULL UNIQUE,
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    rate_limit   integer NOT NULL CHECK (rate_limit > 0),
    default_site text REFERENCES sites (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- Administrators of the dashboard and admin API; passwords as argon2id PHC strings.
CREATE TABLE admins (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 100),
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Every SMS, outbound and inbound. The id is a UUID v7 chosen by the API.
CREATE TABLE messages (
    id               uuid PRIMARY KEY,
    direction        text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    site_id          text REFERENCES sites (id),
    modem_id         text,
    -- E.164 for outbound; an inbound sender may also be a name such as BANK
    phone            text NOT NULL CHECK (length(phone) BETWEEN 1 AND 64),
    content          text NOT NULL,
    encoding         text NOT NULL CHECK (encoding IN ('gsm7', 'ucs2')),
    segments         integer NOT NULL CHECK (segments >= 0),
    status           text NOT NULL CHECK (status IN (
                         'pending', 'queued', 'dispatched', 'accepted', 'sending', 'sent',
                         'delivered', 'undelivered', 'failed', 'expired', 'canceled',
                         'received')),
    priority         smallint NOT NULL DEFAULT 0,
    delivery_report  boolean NOT NULL DEFAULT false,
    expires_at       timestamptz,
    metadata         jsonb,
    owner_key_id     bigint REFERENCES api_keys (id),
    idempotency_key  text,
    error_code       text,
    error_detail     text,
    delivery_report_at timestamptz,
    -- send attempts at the modem, as the agent reports them
    attempts         integer NOT NULL DEFAULT 0,
    -- times the API published the send command (re-dispatch until the agent accepts)
    dispatches       integer NOT NULL DEFAULT 0,
    -- when the dispatcher should (re)publish the command; NULL once the agent has it
    next_dispatch_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- when the message entered each state (NULL: never)
    pending_at       timestamptz,
    queued_at        timestamptz,
    dispatched_at    timestamptz,
    accepted_at      timestamptz,
    sending_at       timestamptz,
    sent_at          timestamptz,
    delivered_at     timestamptz,
    undelivered_at   timestamptz,
    failed_at        timestamptz,
    expired_at       timestamptz,
    canceled_at      timestamptz,
    received_at      timestamptz,
    -- the agent event that brought an inbound message: stored once however often it comes
    event_id         uuid UNIQUE,
    -- an outbound message always belongs to the key that sent it and has an E.164 number
    CHECK (direction = 'inbound'
           OR (owner_key_id IS NOT NULL AND phone ~ '^\+[1-9][0-9]{1,14}$'))
);

-- Listing: every list is scoped to one key and ordered newest first by (created_at, id),
-- which is also the keyset of the cursor.
CREATE INDEX messages_owner_created_idx ON messages (owner_key_id, created_at DESC, id DESC);
CREATE INDEX messages_owner_status_idx ON messages (owner_key_id, status, created_at DESC, id DESC);
CREATE INDEX messages_owner_phone_idx ON messages (owner_key_id, phone, created_at DESC, id DESC);
CREATE INDEX messages_owner_site_idx ON messages (owner_key_id, site_id, created_at DESC, id DESC);
CREATE INDEX messages_direction_created_idx ON messages (direction, created_at DESC, id DESC);
CREATE INDEX messages_phone_idx ON messages (phone, created_at DESC, id DESC);
-- Routing (queue length per site) and the re-dispatch loop.
CREATE INDEX messages_site_open_idx ON messages (site_id, status)
    WHERE status IN ('pending', 'queued', 'dispatched', 'accepted', 'sending');
CREATE INDEX messages_dispatch_due_idx ON messages (next_dispatch_at)
    WHERE status IN ('pending', 'queued', 'dispatched');

-- Append-only history of status changes, one row per event id (events from agents are
-- stored once however often they arrive). `applied` tells whether the event moved the
-- message forward.
CREATE TABLE message_events (
    event_id    uuid PRIMARY KEY,
    message_id  uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    state       text NOT NULL,
    source      text NOT NULL CHECK (source IN ('api', 'agent')),
    at          timestamptz NOT NULL,
    modem_id    text,
    attempt     integer,
    error_code  text,
    error_modem_code text,
    error_retryable boolean,
    error_detail text,
    applied     boolean NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_events_message_idx ON message_events (message_id, at, event_id);

CREATE FUNCTION message_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'message_events is append-only';
END;
$$;
CREATE TRIGGER message_events_no_update BEFORE UPDATE ON message_events
    FOR EACH ROW EXECUTE FUNCTION message_events_append_only();

-- Rate-limit counters: one row per key and fixed window. The row lock taken by the
-- increment makes the count exact across any number of API replicas.
CREATE TABLE rate_limit_windows (
    key_id       bigint NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL CHECK (count >= 0),
    PRIMARY KEY (key_id, window_start)
);

-- Idempotency-Key records: the first request with a key stores its answer; a repeat with
-- the same body gets the same answer, a repeat with another body is refused.
CREATE TABLE idempotency_records (
    key_id          bigint NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    idempotency_key text NOT NULL,
    request_hash    bytea NOT NULL,
    response_status smallint,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_id, idempotency_key)
);
CREATE INDEX idempotency_records_created_idx ON idempotency_records (created_at);
