-- The least-privilege role smsgw-api serves with (deploy/README.md, "Database roles").
--
-- Two roles share the database:
--   * the owner (e.g. smsgw, or the RDS master user) owns the schema and runs the
--     migrations: `smsgw-api migrate`;
--   * the runtime role (default smsgw_api) is what `smsgw-api serve --no-migrate` logs in
--     as: it may read and write the rows of the API's tables and use their sequences, and
--     nothing else — no DDL, no TRUNCATE, not even a look at the migrations' bookkeeping.
--
-- Run this as the owner, in the API's database, after the migrations; it is idempotent.
-- `smsgw-api migrate --runtime-role smsgw_api` runs it after migrating. By hand:
--   PGOPTIONS='-c smsgw.runtime_role=smsgw_api' psql -v ON_ERROR_STOP=1 -d smsgw -f runtime-role.sql
-- The owner needs CREATEROLE the first time (the role is created then, without a
-- password: nobody can log in as it until one is set, with `ALTER ROLE smsgw_api PASSWORD`
-- or by the rotation of its secret). Tables that later migrations create get the same
-- grants (default privileges of the owner), and running this again after each migration
-- grants whatever exists.
DO $runtime_role$
DECLARE
    runtime name := coalesce(nullif(current_setting('smsgw.runtime_role', true), ''), 'smsgw_api');
BEGIN
    IF runtime = current_user THEN
        RAISE EXCEPTION 'the runtime role % is the role running this script: run it as the owner of the schema', runtime;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = runtime) THEN
        EXECUTE format('CREATE ROLE %I LOGIN', runtime);
    END IF;
    -- Before PostgreSQL 15 every role may create objects in schema public: take that
    -- back, keeping the owner's own right (only the schema's owner can; otherwise stop).
    IF has_schema_privilege(runtime, 'public', 'CREATE') THEN
        EXECUTE format('GRANT CREATE ON SCHEMA public TO %I', current_user);
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
        IF has_schema_privilege(runtime, 'public', 'CREATE') THEN
            RAISE EXCEPTION 'role % may create objects in schema public', runtime
                USING HINT = format('as the owner of schema public: REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT CREATE ON SCHEMA public TO %I', current_user);
        END IF;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), runtime);
    EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', runtime);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', runtime);
    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', runtime);
    IF to_regclass('public._sqlx_migrations') IS NOT NULL THEN
        EXECUTE format('REVOKE ALL ON TABLE public._sqlx_migrations FROM %I', runtime);
    END IF;
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', runtime);
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %I', runtime);
END
$runtime_role$;
