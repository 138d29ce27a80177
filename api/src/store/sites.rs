//! Branch sites: registered by an operator, kept up to date from the agents' retained
//! `state/conn` and `state/modems` messages, and chosen by the router for messages that
//! name no site.

use smsgw_shared::ids::SiteId;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

use super::{StoreError, violated_constraint};

/// A site with its presence and the length of its queue.
#[derive(Debug, Clone)]
pub struct SiteRecord {
    /// The site id.
    pub id: String,
    /// `online`, `offline` or `unknown`.
    pub presence: String,
    /// The agent's session counter.
    pub session: i64,
    /// The agent's version, from its last `state/conn`.
    pub agent_version: Option<String>,
    /// When the agent was last heard of.
    pub last_seen: Option<OffsetDateTime>,
    /// When the site was registered.
    pub created_at: OffsetDateTime,
    /// Outbound messages not yet handed to a modem.
    pub queue: i64,
    /// Modems the agent reported.
    pub modems: i64,
}

/// Registers a site.
pub async fn create(db: &PgPool, id: &SiteId) -> Result<(), StoreError> {
    sqlx::query!("INSERT INTO sites (id) VALUES ($1)", id.as_str())
        .execute(db)
        .await
        .map_err(|e| match violated_constraint(&e) {
            Some("sites_pkey") => StoreError::AlreadyExists(format!("site {id}")),
            _ => StoreError::Database(e),
        })?;
    Ok(())
}

/// Every site with its queue length, by id.
pub async fn list(db: &PgPool) -> Result<Vec<SiteRecord>, sqlx::Error> {
    sqlx::query_as!(
        SiteRecord,
        r#"SELECT s.id, s.presence, s.session, s.agent_version, s.last_seen, s.created_at,
                  (SELECT count(*) FROM messages m
                    WHERE m.site_id = s.id
                      AND m.status IN ('pending', 'queued', 'dispatched', 'accepted', 'sending'))
                    AS "queue!",
                  (SELECT count(*) FROM modems d WHERE d.site_id = s.id) AS "modems!"
           FROM sites s ORDER BY s.id"#,
    )
    .fetch_all(db)
    .await
}

/// One site, if registered (sites are few: read from the list).
pub async fn find(db: &PgPool, id: &SiteId) -> Result<Option<SiteRecord>, sqlx::Error> {
    Ok(list(db).await?.into_iter().find(|s| s.id == id.as_str()))
}

/// Outbound messages of the sites among `allowed` (`None`: every site) that wait to be
/// sent (`pending` to `accepted`: in the API or an agent's journal) and that are being
/// sent now (`sending`).
pub async fn queue_counts(
    db: &PgPool,
    allowed: Option<&[String]>,
) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE status <> 'sending') AS "pending!",
                  count(*) FILTER (WHERE status = 'sending') AS "executing!"
           FROM messages
           WHERE status IN ('pending', 'queued', 'dispatched', 'accepted', 'sending')
             AND ($1::text[] IS NULL OR site_id = ANY($1))"#,
        allowed as _,
    )
    .fetch_one(db)
    .await?;
    Ok((row.pending, row.executing))
}

/// A modem with the last state its agent published.
#[derive(Debug, Clone)]
pub struct ModemRecord {
    /// Modem id.
    pub id: String,
    /// The modem's entry of the last `state/modems` message.
    pub state: serde_json::Value,
    /// When that state arrived.
    pub updated_at: OffsetDateTime,
}

/// The modems of a site, by id.
pub async fn modems(db: &PgPool, site: &SiteId) -> Result<Vec<ModemRecord>, sqlx::Error> {
    sqlx::query_as!(
        ModemRecord,
        "SELECT id, state, updated_at FROM modems WHERE site_id = $1 ORDER BY id",
        site.as_str()
    )
    .fetch_all(db)
    .await
}

/// A modem of any site with its last state, for the gauges of `/metrics` and the health
/// answer.
#[derive(Debug, Clone)]
pub struct SiteModem {
    /// Its site.
    pub site_id: String,
    /// Modem id.
    pub id: String,
    /// The modem's entry of the last `state/modems` message.
    pub state: serde_json::Value,
    /// When that state arrived.
    pub updated_at: OffsetDateTime,
}

/// Every modem of every site, by site and id.
pub async fn all_modems(db: &PgPool) -> Result<Vec<SiteModem>, sqlx::Error> {
    sqlx::query_as!(
        SiteModem,
        "SELECT site_id, id, state, updated_at FROM modems ORDER BY site_id, id"
    )
    .fetch_all(db)
    .await
}

/// Which of these sites are registered (one query for a whole batch of messages).
pub async fn registered(
    conn: &mut PgConnection,
    ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT id FROM sites WHERE id = ANY($1)", ids)
        .fetch_all(conn)
        .await
}

/// The site for a message that names none and whose key has no default, among `allowed`
/// (`None`: every site): the only one, else an online one with the shortest queue, else
/// (all offline) the shortest queue — an offline branch never rejects a message, it waits
/// queued. `None`: no site at all.
pub async fn pick_for_routing(
    conn: &mut PgConnection,
    allowed: Option<&[String]>,
) -> Result<Option<String>, sqlx::Error> {
    // The common case, one site, needs no queue lengths.
    let ids = sqlx::query_scalar!(
        "SELECT id FROM sites WHERE $1::text[] IS NULL OR id = ANY($1) ORDER BY id LIMIT 2",
        allowed as _
    )
    .fetch_all(&mut *conn)
    .await?;
    if ids.len() < 2 {
        return Ok(ids.into_iter().next());
    }
    sqlx::query_scalar!(
        r#"SELECT s.id
           FROM sites s
           WHERE $1::text[] IS NULL OR s.id = ANY($1)
           ORDER BY (s.presence = 'online') DESC,
                    (SELECT count(*) FROM messages m
                      WHERE m.site_id = s.id
                        AND m.status IN ('pending', 'queued', 'dispatched', 'accepted', 'sending')),
                    s.id
           LIMIT 1"#,
        allowed as _
    )
    .fetch_optional(conn)
    .await
}

/// Replaces the modems of a site with those of a `state/modems` report measured `at` in
/// agent session `session`, unless a newer session already connected or a report at least
/// as new was applied (reports of one session may be ingested out of order: a retained
/// message arriving late, concurrent ingestion, several replicas). Returns false when it
/// was ignored.
pub async fn replace_modems(
    conn: &mut PgConnection,
    site: &SiteId,
    session: i64,
    at: OffsetDateTime,
    modems: &[(String, serde_json::Value)],
) -> Result<bool, sqlx::Error> {
    let Some(current) = sqlx::query!(
        "SELECT session, modems_session, modems_at FROM sites WHERE id = $1 FOR UPDATE",
        site.as_str()
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(false);
    };
    // PostgreSQL keeps microseconds: compare what it stores.
    let at = at
        .replace_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(at);
    let newer_than_applied = match (current.modems_session, current.modems_at) {
        (Some(applied_session), Some(applied_at)) => (session, at) > (applied_session, applied_at),
        _ => true,
    };
    if current.session > session || !newer_than_applied {
        return Ok(false);
    }
    sqlx::query!(
        "UPDATE sites SET modems_session = $2, modems_at = $3 WHERE id = $1",
        site.as_str(),
        session,
        at
    )
    .execute(&mut *conn)
    .await?;
    let ids: Vec<String> = modems.iter().map(|(id, _)| id.clone()).collect();
    let states: Vec<serde_json::Value> = modems.iter().map(|(_, s)| s.clone()).collect();
    sqlx::query!(
        "DELETE FROM modems WHERE site_id = $1 AND NOT (id = ANY($2))",
        site.as_str(),
        &ids
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"INSERT INTO modems (site_id, id, state, updated_at)
           SELECT $1, id, state, now() FROM unnest($2::text[], $3::jsonb[]) AS u(id, state)
           ON CONFLICT (site_id, id) DO UPDATE SET state = excluded.state, updated_at = now()"#,
        site.as_str(),
        &ids,
        &states,
    )
    .execute(conn)
    .await?;
    Ok(true)
}
