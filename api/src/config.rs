//! The command line: every setting is a flag and an environment variable, so the same
//! binary runs from a shell, a systemd unit or a container without a config file.
//! `smsgw-api --help` (and `smsgw-api configfile`) document them.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr};

use clap::{Args, Parser, Subcommand};
use smsgw_shared::{
    broker::BrokerUrl,
    phone::{Region, parse_region},
};

use crate::telemetry::LogFormat;

/// The default rate limit of a new key, in messages per minute.
pub const DEFAULT_RATE_LIMIT: u32 = 100;

/// `smsgw-api`: the HTTP API of smsgw and its administration commands.
#[derive(Debug, Parser)]
#[command(name = "smsgw-api", version, about, long_about = None)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(
        long,
        env = "SMSGW_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands of `smsgw-api`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (migrates the database first unless --no-migrate).
    Serve(ServeConfig),
    /// Apply the database migrations and exit (as the role that owns the schema).
    Migrate(MigrateArgs),
    /// Create, list and revoke API keys.
    Keys {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Register and list branch sites.
    Sites {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(subcommand)]
        command: SitesCommand,
    },
    /// Manage administrators of the admin API.
    Admin {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print a commented environment file with every setting and its default.
    Configfile,
    /// Print the topic rules as the ACL of a third-party broker (Mosquitto `acl_file`,
    /// EMQX `acl.conf`), generated from the rules smsgw-broker enforces.
    MqttAcl(MqttAclArgs),
}

/// `mqtt-acl`: which broker, which deployment.
#[derive(Debug, Clone, Args)]
pub struct MqttAclArgs {
    /// The broker the file is for.
    #[arg(long, value_enum)]
    pub format: AclFormat,
    /// The topic root of the deployment.
    #[arg(long, env = "SMSGW_MQTT_TOPIC_ROOT", default_value = "smsgw")]
    pub root: String,
    /// A site to write rules for (EMQX only; repeat the flag for every site). Mosquitto's
    /// rules name the site by the user name and need no list.
    #[arg(long = "site")]
    pub sites: Vec<String>,
}

/// The ACL formats `mqtt-acl` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AclFormat {
    /// A Mosquitto `acl_file` (`pattern` lines; agents log in with their site id).
    Mosquitto,
    /// An EMQX file authorization source (`acl.conf`).
    Emqx,
}

/// `keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once (only its HMAC is stored).
    Create {
        /// A name that says who uses the key.
        #[arg(long)]
        name: String,
        /// Messages per minute.
        #[arg(long, env = "SMSGW_DEFAULT_RATE_LIMIT", default_value_t = DEFAULT_RATE_LIMIT)]
        rate_limit: u32,
        /// A site the key may use (repeat for several; default: every site). With one
        /// site, messages naming none go there.
        #[arg(long = "site", value_name = "SITE")]
        sites: Vec<String>,
        /// Site that messages of this key go to when they name none (one of --site).
        #[arg(long)]
        default_site: Option<String>,
        /// What the key may do: send, read, inbound, sites (repeat or separate with
        /// commas; default: all of them).
        #[arg(long = "permission", value_name = "PERMISSION", value_delimiter = ',')]
        permissions: Vec<String>,
        #[command(flatten)]
        pepper: PepperArgs,
    },
    /// List the keys (never the keys themselves).
    List,
    /// Revoke a key by its visible prefix (e.g. `sk_live_AbCd1234`).
    Revoke {
        /// The prefix printed by `keys create` and `keys list`.
        prefix: String,
    },
}

/// `sites …`
#[derive(Debug, Subcommand)]
pub enum SitesCommand {
    /// Register a site and print its agent's broker credentials (client id and JWT).
    Create {
        /// The site id: 1 to 32 characters of a-z and 0-9.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        token: TokenArgs,
    },
    /// Print new broker credentials for the agent of a registered site.
    Credentials {
        /// The site id.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        token: TokenArgs,
    },
    /// List sites with their presence.
    List,
}

/// `admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator; the password comes from SMSGW_ADMIN_PASSWORD or the first
    /// line of standard input.
    Create {
        /// Login name.
        #[arg(long)]
        username: String,
        /// The password (prefer the environment variable over the flag).
        #[arg(long, env = "SMSGW_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<Secret>,
    },
}

/// How agent credentials are signed.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// Key the broker verifies agent tokens with (HS256).
    #[arg(long, env = "SMSGW_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Secret,
    /// Days the credential stays valid.
    #[arg(long, default_value_t = 365)]
    pub valid_days: u32,
    /// Also print the site's Mosquitto password-file line (user = site id, password = the
    /// credential), as the last line.
    #[arg(long)]
    pub mosquitto: bool,
}

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL, e.g. postgres://smsgw@localhost/smsgw.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Secret,
    /// Connections in the pool.
    #[arg(long, env = "SMSGW_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// File holding the database password (one line), or a JSON object with `password`
    /// and `username` (a Secrets Manager secret as it is); it overrides DATABASE_URL's and
    /// is read again every second, so a rotated password is used by new connections
    /// without a restart.
    #[arg(long, env = "SMSGW_DATABASE_PASSWORD_FILE")]
    pub database_password_file: Option<PathBuf>,
}

/// `migrate`: the database, and the role to grant what the API needs.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// After migrating, give this role exactly what `serve` needs (DML on the API's
    /// tables, creating it without a password if it does not exist):
    /// deploy/postgres/runtime-role.sql.
    #[arg(long, env = "SMSGW_DATABASE_RUNTIME_ROLE", value_parser = parse_role)]
    pub runtime_role: Option<String>,
}

/// A PostgreSQL role name the runtime role may have: lower-case letters, digits and `_`,
/// starting with a letter, at most 57 bytes (so that Secrets Manager's alternating-users
/// rotation can add `_clone`).
fn parse_role(name: &str) -> Result<String, String> {
    let ok = name.len() <= 57
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(name.to_owned())
    } else {
        Err("1 to 57 characters of a-z, 0-9 and _, starting with a letter".into())
    }
}

/// The server pepper of API keys.
#[derive(Debug, Clone, Args)]
pub struct PepperArgs {
    /// Secret key of HMAC-SHA256(pepper, api key): at least 32 random bytes, e.g.
    /// `openssl rand -hex 32`. Changing it invalidates every key.
    #[arg(long, env = "SMSGW_KEY_PEPPER", hide_env_values = true)]
    pub key_pepper: Secret,
}

/// Everything `serve` needs.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub pepper: PepperArgs,
    /// Address and port of the HTTP listener.
    #[arg(long, env = "SMSGW_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,
    /// Region (ISO 3166-1 alpha-2, e.g. FR) for phone numbers written in national form;
    /// without it only international numbers (+…) are accepted.
    #[arg(long, env = "SMSGW_DEFAULT_REGION", value_parser = parse_region)]
    pub default_region: Option<Region>,
    /// Do not apply database migrations on start.
    #[arg(long, env = "SMSGW_NO_MIGRATE")]
    pub no_migrate: bool,
    #[command(flatten)]
    pub mqtt: MqttArgs,
    /// Key that signs admin sessions and agent credentials (HS256): at least 32 random
    /// bytes, e.g. `openssl rand -hex 32`; without it the admin API is disabled.
    #[arg(long, env = "SMSGW_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,
    /// Rate limit of keys created through the admin API, messages per minute.
    #[arg(long, env = "SMSGW_DEFAULT_RATE_LIMIT", default_value_t = DEFAULT_RATE_LIMIT)]
    pub default_rate_limit: u32,
    /// Hours an admin session lasts.
    #[arg(long, env = "SMSGW_ADMIN_SESSION_HOURS", default_value_t = 12)]
    pub admin_session_hours: u32,
    /// Admin password checks (argon2id, ~19 MiB each) that may run at once; a login
    /// beyond them is answered 503 login_busy.
    #[arg(long, env = "SMSGW_LOGIN_CONCURRENCY", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub login_concurrency: u32,
    /// Reverse proxies or load balancers in front of the API whose X-Forwarded-For
    /// entries are trusted for the client address (1 behind one ALB or nginx; 0: the TCP
    /// peer is the client).
    #[arg(long, env = "SMSGW_TRUSTED_PROXY_HOPS", default_value_t = 0)]
    pub trusted_proxy_hops: u8,
    /// Days finished messages (with their history), inbound SMS and dead letters are kept
    /// before they are deleted; 0 keeps everything.
    #[arg(long, env = "SMSGW_RETENTION_DAYS", default_value_t = 365)]
    pub retention_days: u32,
}

impl ServeConfig {
    /// Settings for a test or an embedding: the given database and pepper, everything else
    /// at its default, HTTP on `127.0.0.1:0`.
    pub fn for_database(database_url: &str, key_pepper: &str) -> Self {
        Self {
            database: DatabaseArgs {
                database_url: Secret::new(database_url),
                db_max_connections: 10,
                database_password_file: None,
            },
            pepper: PepperArgs {
                key_pepper: Secret::new(key_pepper),
            },
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            default_region: None,
            no_migrate: false,
            mqtt: MqttArgs::default(),
            jwt_secret: None,
            default_rate_limit: DEFAULT_RATE_LIMIT,
            admin_session_hours: 12,
            login_concurrency: 4,
            trusted_proxy_hops: 0,
            retention_days: 365,
        }
    }
}

/// The broker connection and the dispatcher.
#[derive(Debug, Clone, Args)]
pub struct MqttArgs {
    /// MQTT broker, `mqtt://host:port` or `mqtts://host:port`. Without it the API
    /// stores messages but sends nothing to the branches.
    #[arg(long, env = "SMSGW_MQTT_URL")]
    pub mqtt_url: Option<BrokerUrl>,
    /// MQTT user name sent with SMSGW_MQTT_PASSWORD (default: smsgw-api, the user the
    /// shipped Mosquitto ACL names; smsgw-broker ignores user names).
    #[arg(long, env = "SMSGW_MQTT_USERNAME")]
    pub mqtt_username: Option<String>,
    /// MQTT password. Without it, and with SMSGW_JWT_SECRET set, the API signs its own
    /// broker token (what smsgw-broker expects).
    #[arg(long, env = "SMSGW_MQTT_PASSWORD", hide_env_values = true)]
    pub mqtt_password: Option<Secret>,
    /// MQTT client id; must start with `api-` for smsgw-broker. Default: `api-` and a
    /// random suffix, so that replicas never take each other's session.
    #[arg(long, env = "SMSGW_MQTT_CLIENT_ID")]
    pub mqtt_client_id: Option<String>,
    /// CA certificate (PEM) that signed the broker's certificate, for `mqtts://`;
    /// default: the public web roots.
    #[arg(long, env = "SMSGW_MQTT_CA_FILE")]
    pub mqtt_ca_file: Option<PathBuf>,
    /// First element of every topic.
    #[arg(long, env = "SMSGW_MQTT_TOPIC_ROOT", default_value = "smsgw")]
    pub mqtt_topic_root: String,
    /// Send commands per site that may wait for the agent's `accepted` at once.
    #[arg(long, env = "SMSGW_DISPATCH_WINDOW", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub dispatch_window: u32,
}

impl Default for MqttArgs {
    fn default() -> Self {
        Self {
            mqtt_url: None,
            mqtt_username: None,
            mqtt_password: None,
            mqtt_client_id: None,
            mqtt_ca_file: None,
            mqtt_topic_root: "smsgw".to_owned(),
            dispatch_window: 100,
        }
    }
}

/// A setting that must not appear in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// The text printed by `smsgw-api configfile`.
pub const CONFIGFILE: &str = r#"# smsgw-api settings. Every line is an environment variable; each also exists as a
# command-line flag (see `smsgw-api --help`). Lines starting with # show the default.

# PostgreSQL URL (required). Serve as the runtime role (deploy/postgres/runtime-role.sql),
# migrate as the owner of the schema.
DATABASE_URL=postgres://smsgw_api@localhost/smsgw
# Connections in the pool.
#SMSGW_DB_MAX_CONNECTIONS=10
# File with the password (one line, or Secrets Manager's JSON with username and
# password), read again every second: a rotated password needs no restart.
#SMSGW_DATABASE_PASSWORD_FILE=/etc/smsgw/database.password

# Address and port of the HTTP listener.
#SMSGW_HTTP_ADDR=0.0.0.0:8080
# Do not migrate the database on start.
#SMSGW_NO_MIGRATE=false
# Log format: text or json.
#SMSGW_LOG_FORMAT=text

# Secret of HMAC-SHA256(pepper, api key), at least 32 random bytes (required; the API
# refuses to start with this placeholder): openssl rand -hex 32. Changing it invalidates
# every API key.
SMSGW_KEY_PEPPER=change-me-to-the-output-of-openssl-rand-hex-32
# Key that signs admin sessions and the agents' broker credentials (HS256), at least 32
# random bytes: openssl rand -hex 32.
#SMSGW_JWT_SECRET=
# Hours an admin session (JWT) lasts.
#SMSGW_ADMIN_SESSION_HOURS=12
# Admin password checks (argon2id, ~19 MiB each) at once; more logins get 503.
#SMSGW_LOGIN_CONCURRENCY=4
# Proxies in front whose X-Forwarded-For entries are trusted (failed logins are counted
# per client address): 1 behind one load balancer or nginx, 0 when clients connect directly.
#SMSGW_TRUSTED_PROXY_HOPS=0
# Days finished messages (with their history), inbound SMS and dead letters are kept;
# 0 keeps everything.
#SMSGW_RETENTION_DAYS=365
# Region for phone numbers written in national form (ISO 3166-1 alpha-2).
#SMSGW_DEFAULT_REGION=
# Rate limit of new keys, messages per minute.
#SMSGW_DEFAULT_RATE_LIMIT=100

# MQTT broker: mqtt://host:port or mqtts://host:port. Without it messages are stored
# but nothing is sent to the branches.
#SMSGW_MQTT_URL=mqtt://127.0.0.1:1883
# Credentials. Without a password and with SMSGW_JWT_SECRET set, the API signs its own
# broker token (smsgw-broker); Mosquitto and others take a user name and password.
# The user name defaults to smsgw-api, the API's user in the generated broker ACLs.
#SMSGW_MQTT_USERNAME=
#SMSGW_MQTT_PASSWORD=
# Client id (api-… for smsgw-broker); default api- and a random suffix per process.
#SMSGW_MQTT_CLIENT_ID=
# CA certificate (PEM) of the broker for mqtts://; default: the public web roots.
#SMSGW_MQTT_CA_FILE=
# First element of every topic.
#SMSGW_MQTT_TOPIC_ROOT=smsgw
# Send commands per site that may wait for the agent's `accepted` at once.
#SMSGW_DISPATCH_WINDOW=100
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let config = ServeConfig::for_database("postgres://u:pw@h/db", "pepper-pepper-pepper");
        let shown = format!("{config:?}");
        assert!(!shown.contains("pw@h"), "{shown}");
        assert!(!shown.contains("pepper-pepper"), "{shown}");
    }
}
