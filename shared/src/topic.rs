//! MQTT topic names of the contract (DESIGN §3), built and parsed in one place.
//!
//! Every topic is `{root}/{site}/{kind}`; the root is configurable (default `smsgw`) so
//! that several deployments can share a broker. Parsing returns the site and the kind so
//! that a subscriber on a wildcard knows what it received.

use std::fmt;

use crate::ids::SiteId;

/// The default topic root.
pub const DEFAULT_ROOT: &str = "smsgw";

/// The shared-subscription group the API replicas join to split the agents' events.
pub const API_SHARE_GROUP: &str = "smsgw-api";

/// The levels after the root of the topic on which the API publishes, retained, the list
/// of revoked broker credentials. `_` is no site id character, so no site can own it.
pub const REVOCATIONS_SUFFIX: &str = "_broker/revocations";

/// The kinds of topic under a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TopicKind {
    /// API → agent: send an SMS.
    CommandSend,
    /// API → agent: cancel an SMS not yet sent.
    CommandCancel,
    /// API → agent: these events are committed.
    CommandAck,
    /// Agent → API: a message changed state.
    EventStatus,
    /// Agent → API: an SMS arrived.
    EventInbound,
    /// Agent presence (retained, also the Last Will).
    StateConn,
    /// Modem health (retained).
    StateModems,
}

impl TopicKind {
    /// Every kind.
    pub const ALL: [TopicKind; 7] = [
        TopicKind::CommandSend,
        TopicKind::CommandCancel,
        TopicKind::CommandAck,
        TopicKind::EventStatus,
        TopicKind::EventInbound,
        TopicKind::StateConn,
        TopicKind::StateModems,
    ];

    /// The topic levels after the site.
    pub fn suffix(self) -> &'static str {
        match self {
            TopicKind::CommandSend => "command/send",
            TopicKind::CommandCancel => "command/cancel",
            TopicKind::CommandAck => "command/ack",
            TopicKind::EventStatus => "event/status",
            TopicKind::EventInbound => "event/inbound",
            TopicKind::StateConn => "state/conn",
            TopicKind::StateModems => "state/modems",
        }
    }

    /// Whether messages of this kind are published retained.
    pub fn retained(self) -> bool {
        matches!(self, TopicKind::StateConn | TopicKind::StateModems)
    }
}

/// Why a topic or a root was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// The root must be one or more non-empty levels without wildcards.
    #[error("topic root {0:?} must be non-empty levels without '+', '#' or empty levels")]
    BadRoot(String),
    /// The topic does not start with the configured root.
    #[error("topic {0:?} is not under the configured root")]
    OtherRoot(String),
    /// The site level is not a valid site id.
    #[error("topic {topic:?} has an invalid site: {reason}")]
    BadSite {
        /// The topic.
        topic: String,
        /// Why the site was refused.
        reason: String,
    },
    /// The levels after the site name no kind of the contract.
    #[error("topic {0:?} is not a topic of the smsgw contract")]
    UnknownKind(String),
}

/// Builds and parses the topics of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    root: String,
}

impl Default for Topics {
    fn default() -> Self {
        Self {
            root: DEFAULT_ROOT.to_owned(),
        }
    }
}

impl Topics {
    /// Topics under `root` (e.g. `smsgw` or `acme/prod/smsgw`).
    pub fn new(root: &str) -> Result<Self, TopicError> {
        let valid = !root.is_empty()
            && !root.starts_with('$')
            && root
                .split('/')
                .all(|level| !level.is_empty() && !level.contains(['+', '#', '\0']));
        if valid {
            Ok(Self {
                root: root.to_owned(),
            })
        } else {
            Err(TopicError::BadRoot(root.to_owned()))
        }
    }

    /// The root.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The topic of `kind` for `site`.
    pub fn topic(&self, site: &SiteId, kind: TopicKind) -> String {
        format!("{}/{}/{}", self.root, site, kind.suffix())
    }

    /// A filter for `kind` at every site (`{root}/+/{kind}`).
    pub fn all_sites(&self, kind: TopicKind) -> String {
        format!("{}/+/{}", self.root, kind.suffix())
    }

    /// The filter an agent subscribes to for its commands (`{root}/{site}/command/+`).
    pub fn agent_commands(&self, site: &SiteId) -> String {
        format!("{}/{}/command/+", self.root, site)
    }

    /// The shared subscription through which API replicas split every site's events.
    pub fn api_events(&self) -> String {
        format!("$share/{API_SHARE_GROUP}/{}/+/event/#", self.root)
    }

    /// The filter the API uses for every site's retained state.
    pub fn api_states(&self) -> String {
        format!("{}/+/state/+", self.root)
    }

    /// The topic of the revocation list (`{root}/_broker/revocations`): only the API may
    /// publish it (module `acl`).
    pub fn revocations(&self) -> String {
        format!("{}/{REVOCATIONS_SUFFIX}", self.root)
    }

    /// Reads a topic of this deployment back into its site and kind.
    pub fn parse(&self, topic: &str) -> Result<(SiteId, TopicKind), TopicError> {
        let rest = topic
            .strip_prefix(self.root.as_str())
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| TopicError::OtherRoot(topic.to_owned()))?;
        let (site, suffix) = rest
            .split_once('/')
            .ok_or_else(|| TopicError::UnknownKind(topic.to_owned()))?;
        let site = site.parse::<SiteId>().map_err(|e| TopicError::BadSite {
            topic: topic.to_owned(),
            reason: e.to_string(),
        })?;
        let kind = TopicKind::ALL
            .into_iter()
            .find(|k| k.suffix() == suffix)
            .ok_or_else(|| TopicError::UnknownKind(topic.to_owned()))?;
        Ok((site, kind))
    }
}

impl fmt::Display for TopicKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.suffix())
    }
}
