//! Where the broker is: `mqtt://host[:port]` or `mqtts://host[:port]`, parsed once for the
//! agent, the API and the tools, so that every part reads the same URL the same way.

use std::{fmt, str::FromStr};

/// A broker address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Host name or IP address.
    pub host: String,
    /// TCP port (1883 plain, 8883 TLS unless given).
    pub port: u16,
    /// Whether the connection uses TLS (`mqtts://`).
    pub tls: bool,
}

/// Why a broker URL is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerUrlError {
    /// Neither `mqtt://` nor `mqtts://`.
    #[error("{0:?} must start with mqtt:// or mqtts://")]
    Scheme(String),
    /// The port is not a number from 1 to 65535.
    #[error("{0:?}: the port must be a number from 1 to 65535")]
    Port(String),
    /// No host.
    #[error("{0:?} has no host")]
    Host(String),
}

impl FromStr for BrokerUrl {
    type Err = BrokerUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("mqtt://") {
            (false, rest)
        } else {
            return Err(BrokerUrlError::Scheme(url.to_owned()));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            // An IPv6 literal without a port: `[::1]`.
            Some((host, port)) if !port.ends_with(']') => {
                let port: u16 = port
                    .parse()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| BrokerUrlError::Port(url.to_owned()))?;
                (host, port)
            }
            _ => (rest, if tls { 8883 } else { 1883 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(BrokerUrlError::Host(url.to_owned()));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            tls,
        })
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_default_ports() {
        let plain: BrokerUrl = "mqtt://broker.example".parse().expect("plain");
        assert_eq!((plain.port, plain.tls), (1883, false));
        let tls: BrokerUrl = "mqtts://broker.example/".parse().expect("tls");
        assert_eq!(
            (tls.host.as_str(), tls.port, tls.tls),
            ("broker.example", 8883, true)
        );
        let port: BrokerUrl = "mqtt://127.0.0.1:18830".parse().expect("port");
        assert_eq!((port.host.as_str(), port.port), ("127.0.0.1", 18830));
        let v6: BrokerUrl = "mqtt://[::1]:1884".parse().expect("v6");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 1884));
        assert_eq!(v6.to_string(), "mqtt://[::1]:1884");
    }

    #[test]
    fn refusals_say_why() {
        assert!(matches!(
            "tcp://x:1".parse::<BrokerUrl>(),
            Err(BrokerUrlError::Scheme(_))
        ));
        assert!(matches!(
            "mqtt://x:http".parse::<BrokerUrl>(),
            Err(BrokerUrlError::Port(_))
        ));
        assert!(matches!(
            "mqtt://x:0".parse::<BrokerUrl>(),
            Err(BrokerUrlError::Port(_))
        ));
        assert!(matches!(
            "mqtt://:1883".parse::<BrokerUrl>(),
            Err(BrokerUrlError::Host(_))
        ));
        assert!(matches!(
            "mqtts://".parse::<BrokerUrl>(),
            Err(BrokerUrlError::Host(_))
        ));
    }
}
