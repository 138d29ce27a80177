//! The agent's configuration: a TOML file, with environment variables over it for what a
//! deployment injects (site, broker, credentials).
//!
//! Every field has a default so that a minimal file names only the site, the broker and
//! the modems; `smsgw-agent configfile` prints the whole file with a comment on each field.
//! Timings are configurable down to milliseconds so that tests run in seconds.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use serde::Deserialize;
use smsgw_shared::{ModemId, SiteId, broker::BrokerUrl};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a field of the wrong type.
    #[error("invalid configuration: {0}")]
    Toml(#[from] toml::de::Error),
    /// A value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This branch's site id (`[a-z0-9]{1,32}`); env `SMSGW_SITE`.
    pub site: SiteId,
    /// Where the journal lives; env `SMSGW_STATE_DIR`.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// The broker.
    #[serde(default)]
    pub mqtt: MqttConfig,
    /// The modems of this branch.
    #[serde(default)]
    pub modems: Vec<ModemConfig>,
    /// How often things happen.
    #[serde(default)]
    pub timing: Timing,
    /// Local Prometheus endpoint; env `SMSGW_METRICS_ADDR`. Empty string to turn it off.
    #[serde(default = "default_metrics_addr")]
    pub metrics_addr: String,
}

/// How the agent reaches the broker.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://host:port` or `mqtts://host:port`; env `SMSGW_MQTT_URL`.
    pub url: String,
    /// Client id; `agent-{site}` when empty (the broker binds the token to it).
    pub client_id: String,
    /// The site's broker token (printed by `smsgw-api sites create`); env `SMSGW_MQTT_PASSWORD`.
    pub password: String,
    /// Username sent with the token; the site id when empty (brokers with an ACL file
    /// name the site by it, smsgw-broker ignores it); env `SMSGW_MQTT_USERNAME`.
    pub username: String,
    /// CA certificate (PEM) for `mqtts://`; the system roots when empty.
    pub ca_file: String,
    /// Topic root shared with the API.
    pub topic_root: String,
    /// MQTT keep-alive.
    pub keep_alive_secs: u64,
    /// First reconnect delay; doubles with jitter up to `reconnect_max_ms`.
    pub reconnect_min_ms: u64,
    /// Longest reconnect delay.
    pub reconnect_max_ms: u64,
    /// Re-publish an event the API has not acknowledged after this long.
    pub ack_timeout_ms: u64,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            url: "mqtt://127.0.0.1:1883".into(),
            client_id: String::new(),
            password: String::new(),
            username: String::new(),
            ca_file: String::new(),
            topic_root: smsgw_shared::topic::DEFAULT_ROOT.into(),
            keep_alive_secs: 30,
            reconnect_min_ms: 500,
            reconnect_max_ms: 30_000,
            ack_timeout_ms: 15_000,
        }
    }
}

/// One modem.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModemConfig {
    /// Its id in topics and the API (`[a-z0-9][a-z0-9_-]{0,31}`).
    pub id: ModemId,
    /// The driver; only `hilink` today.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// The modem's web address, e.g. `http://192.168.8.1/`.
    pub url: String,
    /// Login, for firmware that requires one.
    #[serde(default)]
    pub username: Option<String>,
    /// Password, for firmware that requires one.
    #[serde(default)]
    pub password: Option<String>,
    /// Sends per minute at most (operators block SIMs that send faster).
    #[serde(default = "default_max_per_minute")]
    pub max_per_minute: u32,
    /// Shortest gap between two sends (HiLink answers 113004 when sends come closer).
    #[serde(default = "default_min_gap_ms")]
    pub min_gap_ms: u64,
}

/// Timings of the loops.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timing {
    /// Poll `check-notifications` (cheap) this often.
    pub notification_poll_ms: u64,
    /// Read the inbox at least this often even without notification.
    pub list_poll_ms: u64,
    /// Publish `state/modems` at least this often (and on every change).
    pub health_interval_ms: u64,
    /// Wait this long for the missing parts of a long inbound SMS before reporting what
    /// arrived.
    pub multipart_settle_ms: u64,
    /// Poll `send-status` this often while a send is in progress.
    pub send_status_poll_ms: u64,
    /// Give up waiting for `send-status` after this long (the outcome is then unknown and
    /// the sent box decides).
    pub send_status_timeout_ms: u64,
    /// First retry delay after a failed attempt; doubles with jitter.
    pub retry_min_ms: u64,
    /// Longest retry delay.
    pub retry_max_ms: u64,
    /// Attempts before a message fails for good.
    pub max_attempts: u32,
    /// Consecutive modem failures that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long the breaker stays open before a probe.
    pub breaker_open_ms: u64,
    /// Connect timeout for modem requests.
    pub modem_connect_timeout_ms: u64,
    /// Whole-request timeout for modem requests.
    pub modem_request_timeout_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            notification_poll_ms: 2_000,
            list_poll_ms: 30_000,
            health_interval_ms: 60_000,
            multipart_settle_ms: 20_000,
            send_status_poll_ms: 1_000,
            send_status_timeout_ms: 120_000,
            retry_min_ms: 5_000,
            retry_max_ms: 300_000,
            max_attempts: 5,
            breaker_failures: 5,
            breaker_open_ms: 60_000,
            modem_connect_timeout_ms: 5_000,
            modem_request_timeout_ms: 30_000,
        }
    }
}

/// Milliseconds as a `Duration`.
pub fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/smsgw-agent")
}
fn default_metrics_addr() -> String {
    "127.0.0.1:9108".into()
}
fn default_kind() -> String {
    "hilink".into()
}
fn default_max_per_minute() -> u32 {
    6
}
fn default_min_gap_ms() -> u64 {
    2_000
}

impl Config {
    /// Reads a TOML text, applies `env` overrides and checks the result.
    pub fn from_toml(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table = text.parse()?;
        if let Some(site) = env("SMSGW_SITE") {
            table.insert("site".into(), toml::Value::String(site));
        }
        if let Some(dir) = env("SMSGW_STATE_DIR") {
            table.insert("state_dir".into(), toml::Value::String(dir));
        }
        if let Some(addr) = env("SMSGW_METRICS_ADDR") {
            table.insert("metrics_addr".into(), toml::Value::String(addr));
        }
        let mqtt = table
            .entry("mqtt")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(mqtt) = mqtt {
            for (var, key) in [
                ("SMSGW_MQTT_URL", "url"),
                ("SMSGW_MQTT_USERNAME", "username"),
                ("SMSGW_MQTT_PASSWORD", "password"),
                ("SMSGW_MQTT_CA_FILE", "ca_file"),
            ] {
                if let Some(value) = env(var) {
                    mqtt.insert(key.into(), toml::Value::String(value));
                }
            }
        }
        let config: Config = toml::Value::Table(table).try_into()?;
        config.check()?;
        Ok(config)
    }

    /// Reads the file at `path` with the process environment over it.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, |k| std::env::var(k).ok())
    }

    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.modems.is_empty() {
            return invalid("no modem configured ([[modems]])".into());
        }
        let mut ids = std::collections::HashSet::new();
        for modem in &self.modems {
            if !ids.insert(&modem.id) {
                return invalid(format!("modem id {} appears twice", modem.id));
            }
            if modem.kind != "hilink" {
                return invalid(format!(
                    "modem {}: unknown kind {:?} (only \"hilink\")",
                    modem.id, modem.kind
                ));
            }
            if !(modem.url.starts_with("http://") || modem.url.starts_with("https://")) {
                return invalid(format!(
                    "modem {}: url {:?} must start with http:// or https://",
                    modem.id, modem.url
                ));
            }
            if modem.max_per_minute == 0 {
                return invalid(format!(
                    "modem {}: max_per_minute must be at least 1",
                    modem.id
                ));
            }
        }
        self.broker()?;
        smsgw_shared::Topics::new(&self.mqtt.topic_root)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if self.timing.max_attempts == 0 || self.timing.breaker_failures == 0 {
            return invalid(
                "timing.max_attempts and timing.breaker_failures must be at least 1".into(),
            );
        }
        Ok(())
    }

    /// The broker's host, port and whether it uses TLS, from `mqtt.url`.
    pub fn broker(&self) -> Result<BrokerUrl, ConfigError> {
        self.mqtt
            .url
            .parse()
            .map_err(|e: smsgw_shared::broker::BrokerUrlError| {
                ConfigError::Invalid(format!("mqtt.url {e}"))
            })
    }

    /// The MQTT client id: configured, else `agent-{site}`.
    pub fn client_id(&self) -> String {
        if self.mqtt.client_id.is_empty() {
            smsgw_shared::credentials::MqttPrincipal::Agent(self.site.clone()).client_id()
        } else {
            self.mqtt.client_id.clone()
        }
    }

    /// Where the metrics endpoint listens, if anywhere.
    pub fn metrics_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        if self.metrics_addr.is_empty() {
            return Ok(None);
        }
        self.metrics_addr.parse().map(Some).map_err(|_| {
            ConfigError::Invalid(format!(
                "metrics_addr {:?} is not host:port",
                self.metrics_addr
            ))
        })
    }
}

/// The commented default configuration `smsgw-agent configfile` prints.
pub const DEFAULT_CONFIG: &str = r#"# smsgw-agent configuration. Environment variables override the values marked "env".

# This branch's site id: 1 to 32 characters of a-z and 0-9 (env SMSGW_SITE).
site = "branch1"

# Where the journal (commands, events, inbound SMS) lives (env SMSGW_STATE_DIR).
state_dir = "/var/lib/smsgw-agent"

# Local Prometheus endpoint; "" turns it off (env SMSGW_METRICS_ADDR).
metrics_addr = "127.0.0.1:9108"

[mqtt]
# The broker: mqtt://host:port or mqtts://host:port (env SMSGW_MQTT_URL).
url = "mqtt://127.0.0.1:1883"
# The site's broker token, printed by `smsgw-api sites create` (env SMSGW_MQTT_PASSWORD).
password = ""
# Client id; "" means agent-{site}, which the token is bound to.
client_id = ""
# Username sent with the token; "" means the site id, which Mosquitto's ACL names the
# site by (smsgw-broker ignores it) (env SMSGW_MQTT_USERNAME).
username = ""
# CA certificate (PEM) for mqtts://; "" uses the system roots (env SMSGW_MQTT_CA_FILE).
ca_file = ""
# Topic root shared with the API.
topic_root = "smsgw"
# MQTT keep-alive in seconds.
keep_alive_secs = 30
# Reconnect delay: starts here, doubles with jitter up to reconnect_max_ms.
reconnect_min_ms = 500
reconnect_max_ms = 30000
# Re-publish an event the API has not confirmed after this long.
ack_timeout_ms = 15000

# One [[modems]] table per modem.
[[modems]]
# Its id in topics and the API: a-z, 0-9, '-' and '_'.
id = "usb0"
# The driver: only "hilink".
kind = "hilink"
# The modem's web address.
url = "http://192.168.8.1/"
# Login, only for firmware that requires one (E3372h-320).
# username = "admin"
# password = "admin"
# Sends per minute at most; operators block SIMs that send faster.
max_per_minute = 6
# Shortest gap between two sends in milliseconds (the modem refuses closer ones).
min_gap_ms = 2000

[timing]
# Poll check-notifications this often (cheap).
notification_poll_ms = 2000
# Read the inbox at least this often even without a notification.
list_poll_ms = 30000
# Publish modem health at least this often (and on every change).
health_interval_ms = 60000
# Wait this long for the missing parts of a long inbound SMS.
multipart_settle_ms = 20000
# Poll send-status this often while a send is in progress ...
send_status_poll_ms = 1000
# ... and give up after this long (the sent box then decides what happened).
send_status_timeout_ms = 120000
# Retry delay after a failed attempt: starts here, doubles with jitter up to retry_max_ms.
retry_min_ms = 5000
retry_max_ms = 300000
# Attempts before a message fails for good.
max_attempts = 5
# Consecutive modem failures that open the circuit breaker, and how long it stays open.
breaker_failures = 5
breaker_open_ms = 60000
# Timeouts of modem requests.
modem_connect_timeout_ms = 5000
modem_request_timeout_ms = 30000
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_printed_default_is_valid() {
        let config = Config::from_toml(DEFAULT_CONFIG, no_env).expect("default config loads");
        assert_eq!(config.site.as_str(), "branch1");
        assert_eq!(config.modems[0].max_per_minute, 6);
        assert_eq!(config.modems[0].min_gap_ms, 2000);
        assert_eq!(config.client_id(), "agent-branch1");
        assert_eq!(
            config.broker().ok().map(|b| (b.host, b.port, b.tls)),
            Some(("127.0.0.1".into(), 1883, false))
        );
        let defaults = Timing::default();
        assert_eq!(config.timing.list_poll_ms, defaults.list_poll_ms);
        assert_eq!(
            config.mqtt.ack_timeout_ms,
            MqttConfig::default().ack_timeout_ms
        );
    }

    #[test]
    fn env_overrides_the_file() {
        let env = |k: &str| match k {
            "SMSGW_SITE" => Some("lyon".to_owned()),
            "SMSGW_MQTT_URL" => Some("mqtts://broker.example:8883".to_owned()),
            "SMSGW_MQTT_PASSWORD" => Some("token".to_owned()),
            _ => None,
        };
        let config = Config::from_toml(DEFAULT_CONFIG, env).expect("loads");
        assert_eq!(config.site.as_str(), "lyon");
        assert_eq!(config.mqtt.password, "token");
        assert_eq!(
            config.broker().ok().map(|b| (b.host, b.port, b.tls)),
            Some(("broker.example".into(), 8883, true))
        );
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        let minimal = |extra: &str| format!("site = \"a1\"\n{extra}");
        let cases = [
            (minimal(""), "no modem"),
            (
                "site = \"A-1\"\n[[modems]]\nid = \"m\"\nurl = \"http://x/\"".to_owned(),
                "site id",
            ),
            (
                minimal("[[modems]]\nid = \"m\"\nurl = \"ftp://x/\""),
                "http://",
            ),
            (
                minimal(
                    "[[modems]]\nid = \"m\"\nurl = \"http://x/\"\n[[modems]]\nid = \"m\"\nurl = \"http://y/\"",
                ),
                "twice",
            ),
            (
                minimal("[[modems]]\nid = \"m\"\nurl = \"http://x/\"\nkind = \"at\""),
                "unknown kind",
            ),
            (
                minimal("[[modems]]\nid = \"m\"\nurl = \"http://x/\"\nmax_per_minute = 0"),
                "max_per_minute",
            ),
            (
                minimal("[mqtt]\nurl = \"tcp://x\"\n[[modems]]\nid = \"m\"\nurl = \"http://x/\""),
                "mqtt://",
            ),
            (
                minimal("[[modems]]\nid = \"m\"\nurl = \"http://x/\"\nspeed = 1"),
                "unknown field",
            ),
        ];
        for (text, expected) in cases {
            match Config::from_toml(&text, no_env) {
                Ok(_) => panic!("accepted: {text}"),
                Err(e) => assert!(
                    e.to_string().contains(expected),
                    "{e} (wanted {expected:?})"
                ),
            }
        }
    }
}
