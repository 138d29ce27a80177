//! Who may publish and subscribe to what: the topic rules of DESIGN §6, written once.
//!
//! The rules are data ([`AGENT_RULES`], [`API_RULES`]): patterns relative to the topic
//! root in which [`SITE`] stands for the agent's own site and `+` / `#` are the MQTT
//! wildcards. [`check`] is the one decision every enforcement point makes (smsgw-broker's
//! front, on every listener), and [`render`] turns the same table into the ACL files of
//! third-party brokers (Mosquitto, EMQX), so that no shipped configuration can drift from
//! the code.
//!
//! A publish is allowed when a publish rule's pattern matches its topic and, if it is
//! retained, the rule allows retained messages. A subscription is allowed when everything
//! its filter can match lies inside one subscribe rule's pattern: `{root}/lyon/command/send`
//! is inside `{root}/{site}/command/+` for the agent of `lyon`, `{root}/+/command/send` is
//! not (its `+` reaches every other site). A Will is a publish the broker makes later on
//! the client's behalf, so it follows the publish rules. Only API replicas may use a shared
//! subscription, and only in their own group (`$share/smsgw-api/…`); `$SYS` and every other
//! `$` topic are the broker's.
//!
//! Extending the contract (say `command/ussd`) means one line in a table; the tests check
//! that every topic kind of [`crate::topic::TopicKind`] is covered exactly as intended.

pub mod render;
#[cfg(test)]
mod tests;

use crate::{
    credentials::MqttPrincipal,
    ids::SiteId,
    topic::{API_SHARE_GROUP, Topics},
};

/// The placeholder for the agent's own site in a pattern.
pub const SITE: &str = "{site}";

/// What a client asks to do with a topic or a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// PUBLISH to a topic name.
    Publish {
        /// The retain flag of the message.
        retain: bool,
    },
    /// SUBSCRIBE to a filter (wildcards and `$share/{group}/` allowed).
    Subscribe,
    /// The Last Will of a CONNECT: published later by the broker, so it obeys the
    /// publish rules.
    Will {
        /// The Will's retain flag.
        retain: bool,
    },
}

/// What a rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Publishing to topics the pattern matches.
    Publish,
    /// Subscribing to filters inside the pattern.
    Subscribe,
}

/// One permission of a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Publish or subscribe.
    pub access: Access,
    /// Topic levels after the root; [`SITE`] is the agent's own site, `+` and `#` are
    /// MQTT wildcards.
    pub pattern: &'static str,
    /// Whether a published message may be retained (publish rules only).
    pub retain: bool,
}

impl Rule {
    const fn publish(pattern: &'static str) -> Self {
        Self {
            access: Access::Publish,
            pattern,
            retain: false,
        }
    }

    const fn publish_retained(pattern: &'static str) -> Self {
        Self {
            access: Access::Publish,
            pattern,
            retain: true,
        }
    }

    const fn subscribe(pattern: &'static str) -> Self {
        Self {
            access: Access::Subscribe,
            pattern,
            retain: false,
        }
    }
}

/// What the agent `agent-{site}` may do: report events and state of its own site, and
/// receive its own commands. Events are never retained (each is delivered once, through
/// the API's shared subscription); state is retained so that a new API replica reads it.
pub const AGENT_RULES: &[Rule] = &[
    Rule::publish("{site}/event/status"),
    Rule::publish("{site}/event/inbound"),
    Rule::publish_retained("{site}/state/conn"),
    Rule::publish_retained("{site}/state/modems"),
    Rule::subscribe("{site}/command/+"),
];

/// What an API replica `api-…` may do: command every site, publish the revocation list
/// (retained: the broker reads the latest when it starts), read every site's events (in
/// its shared group or directly) and retained state.
pub const API_RULES: &[Rule] = &[
    Rule::publish("+/command/+"),
    Rule::publish_retained(crate::topic::REVOCATIONS_SUFFIX),
    Rule::subscribe("+/event/#"),
    Rule::subscribe("+/state/+"),
];

/// The rules of `principal`.
pub fn rules_of(principal: &MqttPrincipal) -> &'static [Rule] {
    match principal {
        MqttPrincipal::Agent(_) => AGENT_RULES,
        MqttPrincipal::Api(_) => API_RULES,
    }
}

/// Why [`check`] refused; [`AclRefusal::label`] is stable (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AclRefusal {
    /// Not a valid MQTT topic name (publish) or filter (subscribe).
    #[error("not a valid MQTT topic name or filter")]
    Malformed,
    /// `$SYS` and every other `$` topic belong to the broker.
    #[error("$SYS and the other $ topics belong to the broker")]
    Sys,
    /// A shared subscription by an agent, or in another group than the API's.
    #[error("shared subscriptions are for the API replicas' own group only")]
    Share,
    /// Not under the deployment's topic root.
    #[error("outside the deployment's topic root")]
    OtherRoot,
    /// A wildcard reaches further than the client may read.
    #[error("a wildcard reaches beyond what this client may read")]
    Wildcard,
    /// Another site's topic.
    #[error("another site's topic")]
    OtherSite,
    /// A retained message where none may be retained.
    #[error("retained messages are not allowed on this topic")]
    Retain,
    /// A topic of the client's own scope that no rule grants.
    #[error("no rule allows this topic for this client")]
    NotAllowed,
}

impl AclRefusal {
    /// A short stable name, for logs and the `reason` metric label.
    pub fn label(self) -> &'static str {
        match self {
            AclRefusal::Malformed => "malformed",
            AclRefusal::Sys => "sys",
            AclRefusal::Share => "share",
            AclRefusal::OtherRoot => "other_root",
            AclRefusal::Wildcard => "wildcard",
            AclRefusal::OtherSite => "other_site",
            AclRefusal::Retain => "retain",
            AclRefusal::NotAllowed => "not_allowed",
        }
    }
}

/// The one decision: may `principal` do `action` with `topic_or_filter` in the deployment
/// of `topics`?
pub fn check(
    topics: &Topics,
    principal: &MqttPrincipal,
    action: Action,
    topic_or_filter: &str,
) -> Result<(), AclRefusal> {
    let (access, retain) = match action {
        Action::Publish { retain } | Action::Will { retain } => (Access::Publish, retain),
        Action::Subscribe => (Access::Subscribe, false),
    };
    let valid = match access {
        Access::Publish => valid_topic_name(topic_or_filter),
        Access::Subscribe => valid_filter(topic_or_filter),
    };
    if !valid {
        return Err(AclRefusal::Malformed);
    }
    let filter = match topic_or_filter.strip_prefix("$share/") {
        None => topic_or_filter,
        Some(shared) => {
            let (group, inner) = shared.split_once('/').ok_or(AclRefusal::Malformed)?;
            if group.is_empty() || group.contains(['+', '#']) || inner.is_empty() {
                return Err(AclRefusal::Malformed);
            }
            let api = matches!(principal, MqttPrincipal::Api(_));
            if access != Access::Subscribe || !api || group != API_SHARE_GROUP {
                return Err(AclRefusal::Share);
            }
            inner
        }
    };
    if filter.starts_with('$') {
        return Err(AclRefusal::Sys);
    }
    let rest = under_root(topics.root(), filter)?;
    let site = match principal {
        MqttPrincipal::Agent(site) => Some(site.as_str()),
        MqttPrincipal::Api(_) => None,
    };
    let mut retain_refused = false;
    for rule in rules_of(principal).iter().filter(|r| r.access == access) {
        if covers(rule.pattern, site, rest) {
            if retain && !rule.retain {
                retain_refused = true;
                continue;
            }
            return Ok(());
        }
    }
    Err(if retain_refused {
        AclRefusal::Retain
    } else {
        classify(site, rest)
    })
}

/// A topic name as PUBLISH carries it: not empty, no wildcard, no NUL.
fn valid_topic_name(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#', '\0'])
}

/// A subscription filter: not empty, no NUL, `+` only as a whole level, `#` only as the
/// whole last level.
fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let last = levels.peek().is_none();
        let wildcard_ok = match level {
            "+" => true,
            "#" => last,
            other => !other.contains(['+', '#']),
        };
        if !wildcard_ok {
            return false;
        }
    }
    true
}

/// The levels of `filter` after `root` (empty when it names the root itself), or why it
/// is not under the root.
fn under_root<'a>(root: &str, filter: &'a str) -> Result<&'a str, AclRefusal> {
    let mut rest = Some(filter);
    for expected in root.split('/') {
        let Some(current) = rest else {
            return Err(AclRefusal::OtherRoot);
        };
        let (level, tail) = match current.split_once('/') {
            Some((level, tail)) => (level, Some(tail)),
            None => (current, None),
        };
        if level == "+" || level == "#" {
            return Err(AclRefusal::Wildcard);
        }
        if level != expected {
            return Err(AclRefusal::OtherRoot);
        }
        rest = tail;
    }
    Ok(rest.unwrap_or_default())
}

/// Whether everything `filter` (levels after the root) can match lies inside `pattern`.
/// For a topic name (no wildcards) this is plain matching.
fn covers(pattern: &str, site: Option<&str>, filter: &str) -> bool {
    let mut wanted = pattern.split('/');
    let mut given = filter.split('/');
    loop {
        match (wanted.next(), given.next()) {
            // `a/#` covers `a` itself and everything below it.
            (Some("#"), _) => return true,
            (None, None) => return true,
            (Some(_), None) | (None, Some(_)) => return false,
            (Some(want), Some(level)) => {
                let inside = match want {
                    "+" => level != "#",
                    SITE => site == Some(level),
                    literal => level == literal,
                };
                if !inside {
                    return false;
                }
            }
        }
    }
}

/// The most precise reason for a refusal no rule explains: another site, a wildcard, or
/// simply a topic nobody granted.
fn classify(site: Option<&str>, rest: &str) -> AclRefusal {
    let first = rest.split('/').next().unwrap_or_default();
    if let Some(own) = site {
        if first == "+" || first == "#" {
            return AclRefusal::Wildcard;
        }
        if first != own {
            return if first.parse::<SiteId>().is_ok() {
                AclRefusal::OtherSite
            } else {
                AclRefusal::NotAllowed
            };
        }
    }
    if rest.split('/').any(|level| level == "+" || level == "#") {
        AclRefusal::Wildcard
    } else {
        AclRefusal::NotAllowed
    }
}
