//! Broker credentials: the claims of the JWT an MQTT client presents as its password.
//!
//! The API issues the token (`smsgw-api sites create`), the broker verifies it with the
//! same key and no database (DESIGN §4, §6). Both read the claims and the client-id rules
//! from here so that issuer and verifier cannot disagree.

use serde::{Deserialize, Serialize};

use crate::ids::SiteId;

/// The audience of every broker credential: an admin session token (another audience)
/// must never open a broker connection.
pub const MQTT_AUDIENCE: &str = "mqtt";

/// Prefix of an agent's client id and token subject: `agent-{site}`.
pub const AGENT_PREFIX: &str = "agent-";

/// Prefix of an API replica's client id and token subject: `api-…`.
pub const API_PREFIX: &str = "api-";

/// The MQTT user name of every API replica (smsgw-broker ignores user names; brokers with
/// a password file and an ACL, such as Mosquitto, know the API by it). It has a `-`, so no
/// site id can be the same name; agents log in with their site id.
pub const API_MQTT_USERNAME: &str = "smsgw-api";

/// The claims of a broker credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MqttClaims {
    /// The MQTT client id the token is bound to (`agent-{site}` or `api-…`).
    pub sub: String,
    /// Always [`MQTT_AUDIENCE`].
    pub aud: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
}

/// Who a broker client is, read from its client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MqttPrincipal {
    /// The agent of a site.
    Agent(SiteId),
    /// An API replica (any suffix).
    Api(String),
}

impl MqttPrincipal {
    /// Reads a client id; `None` for ids that belong to neither kind.
    pub fn from_client_id(client_id: &str) -> Option<Self> {
        if let Some(site) = client_id.strip_prefix(AGENT_PREFIX) {
            site.parse().ok().map(MqttPrincipal::Agent)
        } else if let Some(rest) = client_id.strip_prefix(API_PREFIX) {
            let ok = !rest.is_empty()
                && rest.len() <= 64
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            ok.then(|| MqttPrincipal::Api(rest.to_owned()))
        } else {
            None
        }
    }

    /// The client id (and token subject) of this principal.
    pub fn client_id(&self) -> String {
        match self {
            MqttPrincipal::Agent(site) => format!("{AGENT_PREFIX}{site}"),
            MqttPrincipal::Api(name) => format!("{API_PREFIX}{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids() {
        let site: SiteId = "lyon".parse().expect("valid");
        let agent = MqttPrincipal::Agent(site);
        assert_eq!(agent.client_id(), "agent-lyon");
        assert_eq!(MqttPrincipal::from_client_id("agent-lyon"), Some(agent));
        assert_eq!(
            MqttPrincipal::from_client_id("api-7f3a"),
            Some(MqttPrincipal::Api("7f3a".into()))
        );
        for bad in [
            "agent-",
            "agent-Lyon",
            "api-",
            "api-a/b",
            "lyon",
            "",
            "admin",
        ] {
            assert_eq!(MqttPrincipal::from_client_id(bad), None, "{bad}");
        }
    }
}
