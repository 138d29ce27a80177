-- Dispatching to the agents: the dispatcher takes each online site's messages in priority
-- order and keeps at most a window of commands per site waiting for the agent's
-- `accepted`, so that a long queue reaches a branch as a steady stream (rumqttd drops
-- what a subscriber cannot keep up with).
CREATE INDEX messages_site_dispatch_idx ON messages (site_id, priority DESC, next_dispatch_at)
    WHERE status IN ('pending', 'queued', 'dispatched');

-- Cancel requests for messages an agent may already hold (dispatched or accepted). The
-- dispatcher publishes `command/cancel` with backoff until the agent reports the message
-- canceled or too far along to cancel; then the request is deleted.
CREATE TABLE cancel_requests (
    message_id   uuid PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    site_id      text NOT NULL REFERENCES sites (id),
    requested_at timestamptz NOT NULL DEFAULT now(),
    publishes    integer NOT NULL DEFAULT 0,
    next_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cancel_requests_next_idx ON cancel_requests (next_at);
