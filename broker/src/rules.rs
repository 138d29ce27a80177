//! The topic rules of smsgw-shared ([`smsgw_shared::acl`]) under the deployment's topic
//! root: what the front asks before it relays a SUBSCRIBE, a PUBLISH or a Will.
//!
//! A deployment names its root (`topic_root`, default `smsgw`). Tests of the other crates
//! give every test a root of its own on one in-process broker, so an embedded broker can
//! also take [`TopicRoot::Any`]: the rules then hold under whatever root the topic starts
//! with (an agent still reaches only its own site and its own commands, but under any
//! root). Only code can choose it; a configuration file always names its root.

use std::fmt;

use serde::Deserialize;
use smsgw_shared::{
    acl::{self, AclRefusal, Action},
    credentials::MqttPrincipal,
    topic::Topics,
};

/// Under which topic root the rules hold.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum TopicRoot {
    /// The deployment's root, e.g. `smsgw` or `acme/prod/smsgw`.
    Named(Topics),
    /// Any root (embedded brokers of tests only, see the module documentation).
    Any,
}

impl Default for TopicRoot {
    fn default() -> Self {
        TopicRoot::Named(Topics::default())
    }
}

impl TryFrom<String> for TopicRoot {
    type Error = String;
    fn try_from(root: String) -> Result<Self, String> {
        Topics::new(&root)
            .map(TopicRoot::Named)
            .map_err(|e| format!("topic_root: {e}"))
    }
}

impl fmt::Display for TopicRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicRoot::Named(topics) => f.write_str(topics.root()),
            TopicRoot::Any => f.write_str("(any root)"),
        }
    }
}

impl TopicRoot {
    /// [`acl::check`] under this root.
    pub fn check(
        &self,
        principal: &MqttPrincipal,
        action: Action,
        topic: &str,
    ) -> Result<(), AclRefusal> {
        match self {
            TopicRoot::Named(topics) => acl::check(topics, principal, action, topic),
            TopicRoot::Any => check_under_any_root(principal, action, topic),
        }
    }
}

/// Allowed when the rules allow it under one of the roots the topic can start with (its
/// leading levels); otherwise refused for the reason given under the shortest of them.
fn check_under_any_root(
    principal: &MqttPrincipal,
    action: Action,
    topic: &str,
) -> Result<(), AclRefusal> {
    let unshared = topic
        .strip_prefix("$share/")
        .and_then(|shared| shared.split_once('/'))
        .map_or(topic, |(_, filter)| filter);
    let mut first_refusal = None;
    for (end, _) in unshared.match_indices('/') {
        // A level with a wildcard (or a `$` first level) is no root: no longer one is.
        let Ok(topics) = Topics::new(&unshared[..end]) else {
            break;
        };
        match acl::check(&topics, principal, action, topic) {
            Ok(()) => return Ok(()),
            Err(refusal) => {
                first_refusal.get_or_insert(refusal);
            }
        }
    }
    Err(first_refusal.unwrap_or_else(|| {
        acl::check(&Topics::default(), principal, action, topic)
            .err()
            .unwrap_or(AclRefusal::NotAllowed)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(site: &str) -> MqttPrincipal {
        MqttPrincipal::Agent(site.parse().expect("site"))
    }

    const PUBLISH: Action = Action::Publish { retain: false };

    #[test]
    fn a_named_root_is_the_only_root() {
        let root: TopicRoot = "acme/prod".to_owned().try_into().expect("valid");
        let lyon = agent("lyon");
        assert_eq!(
            root.check(&lyon, PUBLISH, "acme/prod/lyon/event/status"),
            Ok(())
        );
        assert_eq!(
            root.check(&lyon, PUBLISH, "t1/lyon/event/status"),
            Err(AclRefusal::OtherRoot)
        );
        assert!(TopicRoot::try_from("a/+".to_owned()).is_err());
        assert_eq!(TopicRoot::default().to_string(), "smsgw");
    }

    #[test]
    fn any_root_keeps_every_other_rule() {
        let any = TopicRoot::Any;
        let lyon = agent("lyon");
        let api = MqttPrincipal::Api("x".into());
        let sub = Action::Subscribe;
        assert_eq!(any.check(&lyon, PUBLISH, "t1/lyon/event/status"), Ok(()));
        assert_eq!(any.check(&lyon, PUBLISH, "a/b/lyon/state/conn"), Ok(()));
        assert_eq!(any.check(&lyon, sub, "t1/lyon/command/+"), Ok(()));
        assert_eq!(
            any.check(&api, sub, "$share/smsgw-api/t1/+/event/#"),
            Ok(())
        );
        assert_eq!(any.check(&api, PUBLISH, "t1/bbb/command/send"), Ok(()));
        let refused = [
            (&lyon, PUBLISH, "t1/bbb/event/status", AclRefusal::OtherSite),
            (&lyon, PUBLISH, "t1/bbb/command/send", AclRefusal::OtherSite),
            (&lyon, sub, "t1/+/command/send", AclRefusal::Wildcard),
            (&lyon, sub, "#", AclRefusal::Wildcard),
            (&lyon, sub, "t1/#", AclRefusal::Wildcard),
            (&lyon, sub, "$SYS/#", AclRefusal::Sys),
            (
                &lyon,
                sub,
                "$share/smsgw-api/t1/+/event/#",
                AclRefusal::Share,
            ),
            (&api, sub, "$share/g/t1/+/event/#", AclRefusal::Share),
            (&api, PUBLISH, "t1/lyon/state/conn", AclRefusal::NotAllowed),
            (&lyon, PUBLISH, "lyon", AclRefusal::OtherRoot),
        ];
        for (who, action, topic, why) in refused {
            assert_eq!(any.check(who, action, topic), Err(why), "{topic}");
        }
    }
}
