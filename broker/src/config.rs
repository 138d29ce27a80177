//! The broker's configuration file: listeners, limits and the metrics address.
//!
//! The file is TOML; every section has defaults, so an empty file runs one plain MQTT 3.1.1
//! listener on loopback. [`CONFIGFILE`] is the commented default (`smsgw-broker configfile`)
//! and a test keeps it equal to [`BrokerConfig::default`]. The JWT secret is never in this
//! file: it comes from `SMSGW_JWT_SECRET`, like the API's.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
};

use serde::Deserialize;

use crate::{error::Error, rules::TopicRoot};

/// Everything the broker reads from its TOML file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// The MQTT listeners (`[[listeners]]`); at least one.
    pub listeners: Vec<ListenerConfig>,
    /// Resource limits shared by every listener.
    pub limits: Limits,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// Worker threads of the broker's runtime; 0 means one per CPU.
    pub worker_threads: usize,
    /// The topic root of the deployment, under which the topic rules hold.
    pub topic_root: TopicRoot,
}

/// One MQTT listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// A name for logs (unique).
    pub name: String,
    /// Address and port; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// MQTT version spoken on this listener.
    #[serde(default)]
    pub protocol: MqttVersion,
    /// Certificate and key: without them the listener is plain TCP, which belongs on
    /// loopback or a private network only. With them, smsgw terminates TLS and relays to
    /// rumqttd on loopback.
    #[serde(default)]
    pub tls: Option<TlsFiles>,
}

/// The MQTT protocol version of a listener.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MqttVersion {
    /// MQTT 3.1.1, what the agent and the API speak.
    #[default]
    V4,
    /// MQTT 5 (rumqttd's support is basic: connect, subscribe, publish).
    V5,
}

/// PEM files of a TLS listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// Server certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// Private key of the certificate (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Limits sized for smsgw: small JSON messages, one connection per site and a few API
/// replicas. See [`CONFIGFILE`] for the reasoning behind each default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Concurrent connections; beyond it rumqttd drops new clients without a CONNACK.
    pub max_connections: usize,
    /// Largest MQTT packet accepted from a client, in bytes.
    pub max_payload_size: usize,
    /// Packets read from one connection before the router takes them.
    pub max_inflight_count: usize,
    /// Time a new connection has to send CONNECT, in milliseconds (at most 65535).
    pub connect_timeout_ms: u16,
    /// Pause after each accepted connection, in milliseconds: smooths reconnect storms.
    pub accept_delay_ms: u64,
    /// Time a client has to complete its TLS handshake, in milliseconds.
    pub tls_handshake_timeout_ms: u64,
    /// Packets the router sends to one connection per scheduling round.
    pub max_outgoing_packet_count: u64,
    /// Size of one in-memory log segment per subscription filter, in bytes (≥ 1024).
    pub max_segment_size: usize,
    /// Segments kept per filter besides the active one; older messages are dropped.
    pub max_segment_count: usize,
    /// Larger (or smaller) segments for the filters that match these patterns.
    pub segment_overrides: Vec<SegmentOverride>,
    /// How `$share/{group}/…` subscriptions split messages between group members.
    pub shared_subscriptions: SharedStrategy,
}

/// Segment sizes for subscription filters that match `filter`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentOverride {
    /// An MQTT filter pattern, e.g. `smsgw/+/event/#`.
    pub filter: String,
    /// Bytes per segment (≥ 1024).
    pub max_segment_size: usize,
    /// Segments kept besides the active one.
    pub max_segment_count: usize,
}

/// Distribution of shared subscriptions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SharedStrategy {
    /// Each member in turn.
    #[default]
    RoundRobin,
    /// A random member.
    Random,
    /// The same member while it stays connected.
    Sticky,
}

/// Where Prometheus metrics are served.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of `GET /metrics` and `GET /healthz`; absent disables the endpoint.
    pub listen: Option<SocketAddr>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            listeners: vec![ListenerConfig {
                name: "local".into(),
                listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 1883)),
                protocol: MqttVersion::V4,
                tls: None,
            }],
            limits: Limits::default(),
            metrics: MetricsConfig::default(),
            worker_threads: 0,
            topic_root: TopicRoot::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 5_000,
            max_payload_size: 64 * 1024,
            max_inflight_count: 100,
            connect_timeout_ms: 5_000,
            accept_delay_ms: 1,
            tls_handshake_timeout_ms: 10_000,
            max_outgoing_packet_count: 200,
            max_segment_size: 128 * 1024,
            max_segment_count: 3,
            segment_overrides: vec![SegmentOverride {
                filter: "smsgw/+/event/#".into(),
                max_segment_size: 8 * 1024 * 1024,
                max_segment_count: 4,
            }],
            shared_subscriptions: SharedStrategy::RoundRobin,
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 9043))),
        }
    }
}

impl BrokerConfig {
    /// Reads and checks a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|error| Error::ReadConfig {
            path: path.to_owned(),
            error,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            Error::InvalidConfig(reason) => {
                Error::InvalidConfig(format!("{}: {reason}", path.display()))
            }
            other => other,
        })
    }

    /// Parses and checks TOML text.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        let config: Self = toml::from_str(text).map_err(|e| Error::InvalidConfig(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// A broker for tests and embedding: one plain MQTT 3.1.1 listener and one MQTT 5
    /// listener on `127.0.0.1`, metrics on `127.0.0.1`, all on free ports, default limits,
    /// and the topic rules under any root ([`TopicRoot::Any`]: tests give each test a root
    /// of its own).
    pub fn loopback() -> Self {
        let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Self {
            listeners: vec![
                ListenerConfig {
                    name: "v4".into(),
                    listen: any_port,
                    protocol: MqttVersion::V4,
                    tls: None,
                },
                ListenerConfig {
                    name: "v5".into(),
                    listen: any_port,
                    protocol: MqttVersion::V5,
                    tls: None,
                },
            ],
            limits: Limits::default(),
            metrics: MetricsConfig {
                listen: Some(any_port),
            },
            worker_threads: 2,
            topic_root: TopicRoot::Any,
        }
    }

    /// Rejects what rumqttd would panic on or silently misread.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Err(Error::InvalidConfig(reason));
        if self.listeners.is_empty() {
            return invalid("at least one [[listeners]] entry is needed".into());
        }
        let mut names = std::collections::HashSet::new();
        for listener in &self.listeners {
            if listener.name.is_empty() || !names.insert(listener.name.as_str()) {
                return invalid(format!(
                    "listener names must be unique and not empty: {:?}",
                    listener.name
                ));
            }
        }
        let limits = &self.limits;
        if limits.max_connections == 0 {
            return invalid("limits.max_connections must be at least 1".into());
        }
        if limits.max_payload_size < 1024 {
            return invalid("limits.max_payload_size must be at least 1024 bytes".into());
        }
        if limits.max_inflight_count == 0 || limits.max_outgoing_packet_count == 0 {
            return invalid(
                "limits.max_inflight_count and limits.max_outgoing_packet_count must be at least 1"
                    .into(),
            );
        }
        if limits.connect_timeout_ms == 0 || limits.tls_handshake_timeout_ms == 0 {
            return invalid(
                "limits.connect_timeout_ms and limits.tls_handshake_timeout_ms must be at least 1"
                    .into(),
            );
        }
        let segments =
            std::iter::once(("limits", limits.max_segment_size, limits.max_segment_count)).chain(
                limits
                    .segment_overrides
                    .iter()
                    .map(|o| (o.filter.as_str(), o.max_segment_size, o.max_segment_count)),
            );
        for (what, size, count) in segments {
            if size < 1024 || count == 0 {
                return invalid(format!(
                    "{what}: max_segment_size must be at least 1024 and max_segment_count at least 1"
                ));
            }
        }
        Ok(())
    }
}

/// The text printed by `smsgw-broker configfile`: every setting with its default.
pub const CONFIGFILE: &str = r#"# smsgw-broker configuration (TOML). Every value shown is the default.
# The JWT secret is not in this file: set SMSGW_JWT_SECRET (the key `smsgw-api` signs with).

# Worker threads of the broker's runtime; 0 means one per CPU.
worker_threads = 0

# The topic root the API and the agents share (SMSGW_MQTT_TOPIC_ROOT of smsgw-api, topic_root
# of the agent). The topic rules hold under it: an agent publishes only its own events and
# state and reads only its own commands; anything outside the root is refused.
topic_root = "smsgw"

# MQTT listeners. Every client authenticates with a JWT as its password, on every
# listener. A listener without [listeners.tls] is plain TCP: keep it on loopback or a
# private network (API replicas in the same VPC). Agents on the internet use TLS.
[[listeners]]
name = "local"
listen = "127.0.0.1:1883"
# "v4" is MQTT 3.1.1 (what smsgw speaks); "v5" is MQTT 5 (basic support in rumqttd).
protocol = "v4"

# A TLS listener for agents (rustls, TLS 1.2 and 1.3; PEM files read at start: restart the
# broker after renewing the certificate).
#[[listeners]]
#name = "agents"
#listen = "0.0.0.0:8883"
#protocol = "v4"
#[listeners.tls]
#cert = "/etc/smsgw/broker.crt"
#key = "/etc/smsgw/broker.key"

[limits]
# Concurrent connections: one per site plus a few per API replica, with headroom.
# At the limit rumqttd drops new clients without a CONNACK.
max_connections = 5000
# Largest packet a client may send, in bytes. smsgw payloads are small JSON documents;
# the largest (state/modems of a site with many modems) stays far below 64 KiB.
max_payload_size = 65536
# Packets read from one connection in one go before the router takes them.
max_inflight_count = 100
# A new connection must send CONNECT within this time (ms, at most 65535): idle sockets
# cannot hold connection slots.
connect_timeout_ms = 5000
# Pause after each accepted connection (ms): spreads a reconnect storm after a restart.
accept_delay_ms = 1
# A TLS client must complete its handshake within this time (ms). Each handshake runs on
# its own, so a stalled client never holds up the others.
tls_handshake_timeout_ms = 10000
# Packets the router hands to one connection per round: keeps one busy subscriber from
# starving the others.
max_outgoing_packet_count = 200
# rumqttd keeps the messages of every subscription filter in memory: the active segment
# plus max_segment_count older ones, each of max_segment_size bytes, and frees nothing
# until a segment is full, so in the long run every busy filter holds its whole bound.
# A subscriber that falls further behind (offline, or slower than a burst) silently loses
# the oldest messages; smsgw's end-to-end acks re-send them. rumqttd's sample config
# allows 1 GiB per filter. Here a site's command filter holds 4 x 128 KiB: a backlog of
# about 1,300 commands, and 512 KiB per site at most (500 MiB for 1,000 sites).
max_segment_size = 131072
max_segment_count = 3
# How $share/{group}/... subscriptions split messages: "roundrobin", "random", "sticky".
shared_subscriptions = "roundrobin"

# The API reads the events of every site through one shared subscription: give that
# filter room for bursts and short API outages (5 x 8 MiB, about 100,000 events).
# Adjust the filter if the topic root is not "smsgw".
[[limits.segment_overrides]]
filter = "smsgw/+/event/#"
max_segment_size = 8388608
max_segment_count = 4

[metrics]
# Prometheus GET /metrics and GET /healthz. Remove the line to disable.
listen = "127.0.0.1:9043"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configfile_is_the_default() {
        let parsed = BrokerConfig::from_toml(CONFIGFILE).expect("the default config parses");
        assert_eq!(parsed, BrokerConfig::default());
    }

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(
            BrokerConfig::from_toml("").expect("empty"),
            BrokerConfig::default()
        );
    }

    #[test]
    fn tls_and_v5_listeners_parse() {
        let config = BrokerConfig::from_toml(
            r#"
            [[listeners]]
            name = "tls"
            listen = "0.0.0.0:8883"
            protocol = "v5"
            tls = { cert = "/c.pem", key = "/k.pem" }
            "#,
        )
        .expect("parses");
        let listener = &config.listeners[0];
        assert_eq!(listener.protocol, MqttVersion::V5);
        assert_eq!(
            listener.tls,
            Some(TlsFiles {
                cert: "/c.pem".into(),
                key: "/k.pem".into()
            })
        );
    }

    #[test]
    fn bad_configs_are_refused() {
        for bad in [
            "listeners = []",
            "[limits]\nmax_segment_size = 10",
            "[limits]\nmax_segment_count = 0",
            "[limits]\nmax_connections = 0",
            "[limits]\nconnect_timeout_ms = 70000",
            "unknown = 1",
            "[[listeners]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[listeners]]\nname = \"a\"\nlisten = \"127.0.0.1:2\"",
            "[[limits.segment_overrides]]\nfilter = \"x/#\"\nmax_segment_size = 100\nmax_segment_count = 1",
        ] {
            assert!(BrokerConfig::from_toml(bad).is_err(), "{bad}");
        }
    }
}
