-- Agent events the database refuses for good (a data or constraint error, not a lost
-- connection) are kept here with their raw payload and the reason, and acknowledged to
-- the agent: re-publishing them could never help, and an unacknowledged event would be
-- published again for ever. One row per event id however often it comes.
CREATE TABLE dead_letters (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- the site as the topic named it
    site_id    text NOT NULL,
    topic      text NOT NULL,
    kind       text NOT NULL,
    event_id   uuid NOT NULL UNIQUE,
    payload    bytea NOT NULL,
    reason     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_created_idx ON dead_letters (created_at);

-- An inbound SMS is stored whatever its sender: `phone` holds it normalised (E.164 when
-- it is a number, cut to 64 characters, possibly empty) and `sender_raw` the sender
-- exactly as the network gave it, when that differs.
ALTER TABLE messages
    DROP CONSTRAINT messages_phone_check,
    ADD CONSTRAINT messages_phone_check CHECK (length(phone) <= 64),
    ADD COLUMN sender_raw text;
