//! What each command of `smsgw-api` does. Administration commands talk to the database
//! directly, so an operator can bootstrap a deployment (migrate, register a site, create
//! the first key and admin) before any server runs.

use std::io::BufRead;

use argon2::{Argon2, password_hash::PasswordHasher};
use smsgw_shared::{acl::render, ids::SiteId, topic::Topics};
use sqlx::PgPool;
use time::OffsetDateTime;

use crate::{
    MIGRATOR,
    config::{
        AclFormat, AdminCommand, CONFIGFILE, Command, DatabaseArgs, KeysCommand, MigrateArgs,
        MqttAclArgs, SitesCommand, TokenArgs,
    },
    database,
    domain::{api_key::KeyPepper, key_scope::KeyScope},
    mqtt::credentials::{AgentCredential, CredentialError, issue_agent_credential},
    secrets::{self, WeakSecret},
    startup::{Application, JWT_SECRET_VARIABLE, StartupError},
    store::{self, StoreError},
};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The server could not start.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The server stopped with an I/O error.
    #[error("the server failed: {0}")]
    Serve(#[from] std::io::Error),
    /// The database refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrating failed.
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A secret setting is weak (it names itself).
    #[error(transparent)]
    WeakSecret(#[from] WeakSecret),
    /// A credential could not be issued.
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// An argument is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The database settings are unusable.
    #[error(transparent)]
    DatabaseSettings(#[from] database::SettingsError),
}

async fn connect(db: &DatabaseArgs) -> Result<PgPool, CommandError> {
    let options = database::connect_options(db)?;
    Ok(sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await?)
}

/// Migrates, then (with `--runtime-role`) grants the runtime role what `serve` needs, on
/// one connection (the script reads the role's name from a setting of the session).
async fn migrate(args: &MigrateArgs) -> Result<(), CommandError> {
    let db = connect(&args.db).await?;
    MIGRATOR.run(&db).await?;
    println!("database migrated");
    if let Some(role) = &args.runtime_role {
        let mut conn = db.acquire().await?;
        sqlx::query("SELECT set_config('smsgw.runtime_role', $1, false)")
            .bind(role)
            .execute(&mut *conn)
            .await?;
        sqlx::raw_sql(database::RUNTIME_ROLE_SQL)
            .execute(&mut *conn)
            .await?;
        println!("role {role} may read and write the API's tables, and nothing else");
    }
    Ok(())
}

fn show_time(at: Option<OffsetDateTime>) -> String {
    at.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .unwrap_or_else(|| "-".to_owned())
}

/// A key's sites as `keys` prints them: `*` for every site.
fn show_sites(sites: Option<&[String]>) -> String {
    sites.map_or_else(|| "*".to_owned(), |s| s.join(","))
}

/// The command-line flag of a field of a key scope.
fn cli_flag(field: &str) -> &str {
    match field {
        "sites" => "site",
        "site" => "default-site",
        "permissions" => "permission",
        other => other,
    }
}

fn parse_site(id: &str) -> Result<SiteId, CommandError> {
    id.parse()
        .map_err(|e| CommandError::Invalid(format!("{e}")))
}

/// Runs one command to completion.
pub async fn run(command: Command) -> Result<(), CommandError> {
    match command {
        Command::Serve(config) => {
            Application::build(config)
                .await?
                .run_until_stopped()
                .await?;
        }
        Command::Migrate(args) => migrate(&args).await?,
        Command::Configfile => print!("{CONFIGFILE}"),
        Command::MqttAcl(args) => print!("{}", mqtt_acl(&args)?),
        Command::Keys { db, command } => keys(&connect(&db).await?, command).await?,
        Command::Sites { db, command } => sites(&connect(&db).await?, command).await?,
        Command::Admin { db, command } => admin(&connect(&db).await?, command).await?,
    }
    Ok(())
}

async fn keys(db: &PgPool, command: KeysCommand) -> Result<(), CommandError> {
    match command {
        KeysCommand::Create {
            name,
            rate_limit,
            sites,
            default_site,
            permissions,
            pepper,
        } => {
            let pepper = KeyPepper::new(pepper.key_pepper.expose())?;
            if name.trim().is_empty() {
                return Err(CommandError::Invalid("--name must not be empty".into()));
            }
            if rate_limit == 0 {
                return Err(CommandError::Invalid(
                    "--rate-limit must be at least 1".into(),
                ));
            }
            let scope = KeyScope::parse(
                (!sites.is_empty()).then_some(&sites[..]),
                default_site.as_deref(),
                (!permissions.is_empty()).then_some(&permissions[..]),
            )
            .map_err(|e| {
                CommandError::Invalid(format!("--{}: {}", cli_flag(&e.field), e.detail))
            })?;
            let (secret, record) =
                store::keys::create(db, &pepper, name.trim(), rate_limit, &scope)
                    .await
                    .map_err(|e| match e {
                        StoreError::Invalid(e) => {
                            CommandError::Invalid(format!("--{}: {}", cli_flag(&e.field), e.detail))
                        }
                        other => other.into(),
                    })?;
            println!("{}", secret.expose());
            eprintln!(
                "created key {} ({}), {} messages/minute, sites {}, permissions {}; the key above is shown only now",
                record.prefix,
                record.name,
                record.rate_limit,
                show_sites(record.sites.as_deref()),
                record.permissions.join(",")
            );
        }
        KeysCommand::List => {
            println!(
                "prefix\tname\trate_limit\tsite\tsites\tpermissions\tcreated_at\tlast_used_at\trevoked_at"
            );
            for k in store::keys::list(db).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    k.prefix,
                    k.name,
                    k.rate_limit,
                    k.default_site.as_deref().unwrap_or("-"),
                    show_sites(k.sites.as_deref()),
                    k.permissions.join(","),
                    show_time(Some(k.created_at)),
                    show_time(k.last_used_at),
                    show_time(k.revoked_at)
                );
            }
        }
        KeysCommand::Revoke { prefix } => {
            let record = store::keys::revoke(db, &prefix).await?;
            println!(
                "revoked {} ({}) at {}",
                record.prefix,
                record.name,
                show_time(record.revoked_at)
            );
        }
    }
    Ok(())
}

fn credential(site: &SiteId, token: &TokenArgs) -> Result<AgentCredential, CommandError> {
    secrets::check(JWT_SECRET_VARIABLE, token.jwt_secret.expose())?;
    if token.valid_days == 0 {
        return Err(CommandError::Invalid(
            "--valid-days must be at least 1".into(),
        ));
    }
    Ok(issue_agent_credential(
        token.jwt_secret.expose(),
        site,
        OffsetDateTime::now_utc(),
        time::Duration::days(i64::from(token.valid_days)),
    )?)
}

fn print_credential(
    site: &SiteId,
    credential: &AgentCredential,
    token: &TokenArgs,
) -> Result<(), CommandError> {
    println!("SMSGW_MQTT_CLIENT_ID={}", credential.client_id);
    println!("SMSGW_MQTT_PASSWORD={}", credential.token);
    eprintln!(
        "broker credentials of {} (valid until {}): put them in the agent's configuration",
        credential.client_id,
        show_time(Some(credential.expires_at))
    );
    if token.mosquitto {
        let line = smsgw_shared::mosquitto::password_line(site.as_str(), &credential.token)
            .map_err(|e| CommandError::Invalid(e.to_string()))?;
        println!("{line}");
        eprintln!(
            "the last line is for Mosquitto's password_file: the agent logs in with user name {site} (its default)"
        );
    }
    Ok(())
}

/// The ACL file of `args.format` for the deployment's root (and sites, for EMQX).
fn mqtt_acl(args: &MqttAclArgs) -> Result<String, CommandError> {
    let topics =
        Topics::new(&args.root).map_err(|e| CommandError::Invalid(format!("--root: {e}")))?;
    let sites = args
        .sites
        .iter()
        .map(|s| parse_site(s))
        .collect::<Result<Vec<_>, _>>()?;
    match args.format {
        AclFormat::Mosquitto if !sites.is_empty() => Err(CommandError::Invalid(
            "--site is for --format emqx: Mosquitto's rules take the site from the user name"
                .into(),
        )),
        AclFormat::Mosquitto => Ok(render::mosquitto(&topics)),
        AclFormat::Emqx if sites.is_empty() => Err(CommandError::Invalid(
            "--format emqx needs every site, one --site flag each".into(),
        )),
        AclFormat::Emqx => Ok(render::emqx(&topics, &sites)),
    }
}

async fn sites(db: &PgPool, command: SitesCommand) -> Result<(), CommandError> {
    match command {
        SitesCommand::Create { id, token } => {
            let id = parse_site(&id)?;
            // Sign first: a missing secret must not leave a site without credentials.
            let credential = credential(&id, &token)?;
            store::sites::create(db, &id).await?;
            eprintln!("site {id} registered");
            print_credential(&id, &credential, &token)?;
        }
        SitesCommand::Credentials { id, token } => {
            let id = parse_site(&id)?;
            if store::sites::find(db, &id).await?.is_none() {
                return Err(StoreError::NotFound(format!("site {id}")).into());
            }
            print_credential(&id, &credential(&id, &token)?, &token)?;
        }
        SitesCommand::List => {
            println!("id\tpresence\tqueue\tmodems\tagent_version\tlast_seen");
            for s in store::sites::list(db).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    s.id,
                    s.presence,
                    s.queue,
                    s.modems,
                    s.agent_version.as_deref().unwrap_or("-"),
                    show_time(s.last_seen)
                );
            }
        }
    }
    Ok(())
}

/// Hashes a password with argon2id (default parameters) off the async threads.
pub async fn hash_password(password: String) -> Result<String, CommandError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| CommandError::Invalid(format!("cannot hash the password: {e}")))
    })
    .await
    .map_err(|e| CommandError::Invalid(format!("hashing task failed: {e}")))?
}

async fn admin(db: &PgPool, command: AdminCommand) -> Result<(), CommandError> {
    match command {
        AdminCommand::Create { username, password } => {
            let password = match password {
                Some(p) => p.expose().to_owned(),
                None => {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            if password.chars().count() < 12 {
                return Err(CommandError::Invalid(
                    "the password must be at least 12 characters".into(),
                ));
            }
            let hash = hash_password(password).await?;
            store::admins::create(db, username.trim(), &hash).await?;
            println!("admin {} created", username.trim());
        }
    }
    Ok(())
}
