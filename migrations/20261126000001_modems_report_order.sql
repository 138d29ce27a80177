-- The (session, at) of the state/modems report applied last. Reports of one session can be
-- ingested out of order (concurrent ingestion, several replicas): an older one arriving
-- after a newer one must not overwrite it.
ALTER TABLE sites
    ADD COLUMN modems_session bigint,
    ADD COLUMN modems_at timestamptz;
