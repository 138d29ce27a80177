-- Erasure: DELETE /api/v1/messages/{id} blanks a message's number, text and client data
-- and keeps the rest (states, times, history) as a tombstone, so an erased outbound
-- message no longer holds an E.164 number.
ALTER TABLE messages
    ADD COLUMN erased_at timestamptz,
    DROP CONSTRAINT messages_check,
    ADD CONSTRAINT messages_check CHECK (
        direction = 'inbound'
        OR (owner_key_id IS NOT NULL
            AND (erased_at IS NOT NULL OR phone ~ '^\+[1-9][0-9]{1,14}$')));

-- Retention: finished messages older than SMSGW_RETENTION_DAYS are deleted oldest first,
-- in small batches that any replica claims (FOR UPDATE SKIP LOCKED); their history goes
-- with them (ON DELETE CASCADE).
CREATE INDEX messages_finished_created_idx ON messages (created_at)
    WHERE status IN ('sent', 'delivered', 'undelivered', 'failed', 'expired', 'canceled',
                     'received');
