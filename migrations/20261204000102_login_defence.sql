-- Admin logins under attack. Failed logins are counted per user name and per client
-- address (an attempt is counted when it starts and forgotten when it succeeds), so that
-- guessing is slowed by an increasing lock-out exactly across every API replica: the row
-- lock of the counter serialises concurrent attempts.
CREATE TABLE login_attempts (
    kind         text NOT NULL CHECK (kind IN ('user', 'address')),
    subject      text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    failures     integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_at      timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    PRIMARY KEY (kind, subject)
);
CREATE INDEX login_attempts_last_idx ON login_attempts (last_at);

-- Admin sessions: the session JWT names one of these rows (claim `sid`), so that a logout
-- ends it on every replica. The CSRF token of a cookie session is kept as its SHA-256.
CREATE TABLE admin_sessions (
    id         uuid PRIMARY KEY,
    username   text NOT NULL REFERENCES admins (username) ON DELETE CASCADE,
    csrf_hash  bytea NOT NULL CHECK (length(csrf_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX admin_sessions_expires_idx ON admin_sessions (expires_at);
