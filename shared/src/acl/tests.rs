//! The rules, exhaustively: every rule, wildcards in every position, other sites, `$share`,
//! `$SYS`, retained messages, Wills, the API, roots of several levels, the revocation
//! topic, and the generated Mosquitto and EMQX files.

use super::{AclRefusal, Action, check, render};
use crate::{
    credentials::MqttPrincipal,
    ids::SiteId,
    topic::{TopicKind, Topics},
};

const PUBLISH: Action = Action::Publish { retain: false };
const RETAINED: Action = Action::Publish { retain: true };
const WILL: Action = Action::Will { retain: false };
const RETAINED_WILL: Action = Action::Will { retain: true };

fn site(id: &str) -> SiteId {
    id.parse().expect("valid site id")
}

fn agent(id: &str) -> MqttPrincipal {
    MqttPrincipal::Agent(site(id))
}

fn api() -> MqttPrincipal {
    MqttPrincipal::Api("7f3a".into())
}

/// The roots the tests run under: the default and one of several levels.
fn roots() -> [Topics; 2] {
    [
        Topics::default(),
        Topics::new("acme/prod/smsgw").expect("valid root"),
    ]
}

fn assert_ok(topics: &Topics, who: &MqttPrincipal, action: Action, topic: &str) {
    assert_eq!(
        check(topics, who, action, topic),
        Ok(()),
        "{who:?} {action:?} {topic}"
    );
}

fn assert_refused(
    topics: &Topics,
    who: &MqttPrincipal,
    action: Action,
    topic: &str,
    why: AclRefusal,
) {
    assert_eq!(
        check(topics, who, action, topic),
        Err(why),
        "{who:?} {action:?} {topic}"
    );
}

#[test]
fn an_agent_publishes_its_own_events_and_state() {
    for topics in roots() {
        let lyon = site("lyon");
        let me = agent("lyon");
        for kind in [TopicKind::EventStatus, TopicKind::EventInbound] {
            let topic = topics.topic(&lyon, kind);
            assert_ok(&topics, &me, PUBLISH, &topic);
            assert_ok(&topics, &me, WILL, &topic);
            assert_refused(&topics, &me, RETAINED, &topic, AclRefusal::Retain);
            assert_refused(&topics, &me, RETAINED_WILL, &topic, AclRefusal::Retain);
        }
        for kind in [TopicKind::StateConn, TopicKind::StateModems] {
            let topic = topics.topic(&lyon, kind);
            for action in [PUBLISH, RETAINED, WILL, RETAINED_WILL] {
                assert_ok(&topics, &me, action, &topic);
            }
        }
    }
}

#[test]
fn an_agent_subscribes_to_its_own_commands_only() {
    for topics in roots() {
        let lyon = site("lyon");
        let me = agent("lyon");
        assert_ok(
            &topics,
            &me,
            Action::Subscribe,
            &topics.agent_commands(&lyon),
        );
        for kind in [
            TopicKind::CommandSend,
            TopicKind::CommandCancel,
            TopicKind::CommandAck,
        ] {
            let topic = topics.topic(&lyon, kind);
            assert_ok(&topics, &me, Action::Subscribe, &topic);
            // Forging its own commands (or acks) is not the agent's business.
            assert_refused(&topics, &me, PUBLISH, &topic, AclRefusal::NotAllowed);
        }
        // Its own events and state are the API's to read.
        for kind in [TopicKind::EventStatus, TopicKind::StateConn] {
            let topic = topics.topic(&lyon, kind);
            assert_refused(
                &topics,
                &me,
                Action::Subscribe,
                &topic,
                AclRefusal::NotAllowed,
            );
        }
    }
}

#[test]
fn an_agent_touches_no_other_site() {
    for topics in roots() {
        let me = agent("lyon");
        let other = site("bbb");
        for kind in TopicKind::ALL {
            let topic = topics.topic(&other, kind);
            for action in [PUBLISH, RETAINED, WILL, RETAINED_WILL, Action::Subscribe] {
                assert_refused(&topics, &me, action, &topic, AclRefusal::OtherSite);
            }
        }
        assert_refused(
            &topics,
            &me,
            Action::Subscribe,
            &topics.agent_commands(&other),
            AclRefusal::OtherSite,
        );
        // A site level that is no site id at all.
        let bogus = format!("{}/Lyon/event/status", topics.root());
        assert_refused(&topics, &me, PUBLISH, &bogus, AclRefusal::NotAllowed);
    }
}

#[test]
fn wildcards_in_every_position_are_refused_to_agents() {
    for topics in roots() {
        let me = agent("lyon");
        let topic = topics.topic(&site("lyon"), TopicKind::CommandSend);
        let levels: Vec<&str> = topic.split('/').collect();
        for i in 0..levels.len() {
            // `+` in place of level i.
            let mut plus = levels.clone();
            plus[i] = "+";
            let plus = plus.join("/");
            // `#` in place of level i and everything after it.
            let mut hash = levels[..i].to_vec();
            hash.push("#");
            let hash = hash.join("/");
            let last = i == levels.len() - 1;
            if last {
                // `{root}/lyon/command/+` is the agent's own subscription.
                assert_ok(&topics, &me, Action::Subscribe, &plus);
            } else {
                assert_refused(&topics, &me, Action::Subscribe, &plus, AclRefusal::Wildcard);
            }
            assert_refused(&topics, &me, Action::Subscribe, &hash, AclRefusal::Wildcard);
            // A topic name never holds a wildcard.
            for action in [PUBLISH, WILL] {
                assert_refused(&topics, &me, action, &plus, AclRefusal::Malformed);
                assert_refused(&topics, &me, action, &hash, AclRefusal::Malformed);
            }
        }
        for filter in ["#", "+", "+/#", "+/+/+/+", "+/lyon/command/+"] {
            assert_refused(
                &topics,
                &me,
                Action::Subscribe,
                filter,
                AclRefusal::Wildcard,
            );
        }
    }
}

#[test]
fn shares_and_broker_topics() {
    for topics in roots() {
        let me = agent("lyon");
        let root = topics.root();
        for filter in [
            topics.api_events(),
            format!("$share/smsgw-api/{root}/lyon/command/+"),
            format!("$share/mine/{root}/lyon/command/+"),
        ] {
            assert_refused(&topics, &me, Action::Subscribe, &filter, AclRefusal::Share);
        }
        for filter in [
            "$SYS/#",
            "$SYS/broker/clients/connected",
            "$share_x/a",
            "$queue/a",
        ] {
            assert_refused(&topics, &me, Action::Subscribe, filter, AclRefusal::Sys);
            assert_refused(&topics, &api(), Action::Subscribe, filter, AclRefusal::Sys);
        }
        assert_refused(&topics, &me, PUBLISH, "$SYS/broker/x", AclRefusal::Sys);
        assert_refused(&topics, &api(), PUBLISH, "$SYS/broker/x", AclRefusal::Sys);
        // The API's own group, and only its own.
        assert_ok(&topics, &api(), Action::Subscribe, &topics.api_events());
        let other_group = format!("$share/g/{root}/+/event/#");
        assert_refused(
            &topics,
            &api(),
            Action::Subscribe,
            &other_group,
            AclRefusal::Share,
        );
        let shared_sys = "$share/smsgw-api/$SYS/#";
        assert_refused(
            &topics,
            &api(),
            Action::Subscribe,
            shared_sys,
            AclRefusal::Sys,
        );
        // The share names what its filter may name, nothing more.
        let shared_all = "$share/smsgw-api/#";
        assert_refused(
            &topics,
            &api(),
            Action::Subscribe,
            shared_all,
            AclRefusal::Wildcard,
        );
        // A shared topic name is no topic to publish to.
        let publish_shared = format!("$share/smsgw-api/{root}/lyon/command/send");
        assert_refused(&topics, &api(), PUBLISH, &publish_shared, AclRefusal::Share);
        for malformed in [
            "$share/",
            "$share/smsgw-api",
            "$share/smsgw-api/",
            "$share//a/b",
            "$share/+/a",
        ] {
            assert_refused(
                &topics,
                &api(),
                Action::Subscribe,
                malformed,
                AclRefusal::Malformed,
            );
        }
    }
}

#[test]
fn the_api_commands_every_site_and_reads_their_events_and_state() {
    for topics in roots() {
        let root = topics.root();
        let api = api();
        for id in ["lyon", "bbb"] {
            let s = site(id);
            for kind in [
                TopicKind::CommandSend,
                TopicKind::CommandCancel,
                TopicKind::CommandAck,
            ] {
                let topic = topics.topic(&s, kind);
                assert_ok(&topics, &api, PUBLISH, &topic);
                assert_refused(&topics, &api, RETAINED, &topic, AclRefusal::Retain);
            }
            // The API never speaks for an agent: no forged event, state or presence.
            for kind in [
                TopicKind::EventStatus,
                TopicKind::EventInbound,
                TopicKind::StateConn,
                TopicKind::StateModems,
            ] {
                let topic = topics.topic(&s, kind);
                assert_refused(&topics, &api, PUBLISH, &topic, AclRefusal::NotAllowed);
                assert_refused(&topics, &api, WILL, &topic, AclRefusal::NotAllowed);
                assert_ok(&topics, &api, Action::Subscribe, &topic);
            }
        }
        for filter in [
            topics.api_events(),
            topics.api_states(),
            topics.all_sites(TopicKind::EventStatus),
            format!("{root}/+/event/#"),
            format!("{root}/lyon/event/+"),
        ] {
            assert_ok(&topics, &api, Action::Subscribe, &filter);
        }
        for filter in [
            "#".to_owned(),
            format!("{root}/#"),
            format!("{root}/+/#"),
            format!("{root}/+/+/+"),
            format!("{root}/+/state/#"),
        ] {
            assert_refused(
                &topics,
                &api,
                Action::Subscribe,
                &filter,
                AclRefusal::Wildcard,
            );
        }
        // The API has no business reading the commands it sends.
        let commands = topics.all_sites(TopicKind::CommandSend);
        assert_refused(
            &topics,
            &api,
            Action::Subscribe,
            &commands,
            AclRefusal::Wildcard,
        );
        let one = topics.topic(&site("lyon"), TopicKind::CommandSend);
        assert_refused(
            &topics,
            &api,
            Action::Subscribe,
            &one,
            AclRefusal::NotAllowed,
        );
    }
}

#[test]
fn only_the_api_publishes_the_revocation_list() {
    for topics in roots() {
        let topic = topics.revocations();
        assert!(topic.ends_with("/_broker/revocations"), "{topic}");
        assert_ok(&topics, &api(), RETAINED, &topic);
        assert_ok(&topics, &api(), PUBLISH, &topic);
        let me = agent("lyon");
        for action in [PUBLISH, RETAINED, WILL, RETAINED_WILL, Action::Subscribe] {
            assert_refused(&topics, &me, action, &topic, AclRefusal::NotAllowed);
        }
        assert_refused(
            &topics,
            &api(),
            Action::Subscribe,
            &topic,
            AclRefusal::NotAllowed,
        );
    }
}

#[test]
fn topics_outside_the_root() {
    let topics = Topics::new("acme/prod/smsgw").expect("valid root");
    let me = agent("lyon");
    for topic in [
        "smsgw/lyon/event/status",
        "acme/smsgw/lyon/event/status",
        "acme/test/smsgw/lyon/event/status",
        "acme/prod/smsgw2/lyon/event/status",
        "acme/prod",
        "acme/prod/smsgw",
    ] {
        let expected = if topic == "acme/prod/smsgw" {
            AclRefusal::NotAllowed
        } else {
            AclRefusal::OtherRoot
        };
        assert_refused(&topics, &me, PUBLISH, topic, expected);
        assert_refused(&topics, &api(), PUBLISH, topic, expected);
    }
    for filter in [
        "acme/+/smsgw/lyon/command/+",
        "acme/#",
        "+/prod/smsgw/lyon/command/+",
    ] {
        assert_refused(
            &topics,
            &me,
            Action::Subscribe,
            filter,
            AclRefusal::Wildcard,
        );
        assert_refused(
            &topics,
            &api(),
            Action::Subscribe,
            filter,
            AclRefusal::Wildcard,
        );
    }
}

#[test]
fn malformed_topics_and_filters() {
    let topics = Topics::default();
    let me = agent("lyon");
    for topic in [
        "",
        "smsgw/lyon/event/st+tus",
        "smsgw/lyon/event/#",
        "smsgw/lyon\0/event/status",
    ] {
        assert_refused(&topics, &me, PUBLISH, topic, AclRefusal::Malformed);
    }
    for filter in [
        "",
        "smsgw/lyon/command/#/x",
        "smsgw/lyon/command/send#",
        "smsgw/ly+on/command/+",
        "smsgw/\0",
    ] {
        assert_refused(
            &topics,
            &me,
            Action::Subscribe,
            filter,
            AclRefusal::Malformed,
        );
    }
    // Empty and extra levels are other topics, never the agent's.
    for topic in [
        "smsgw//event/status",
        "smsgw/lyon/event/status/",
        "smsgw/lyon/event/status/x",
        "/smsgw/lyon/event/status",
    ] {
        assert!(check(&topics, &me, PUBLISH, topic).is_err(), "{topic}");
    }
}

#[test]
fn every_topic_kind_has_the_owner_the_contract_gives_it() {
    // DESIGN §3: commands go API → agent, events and state agent → API.
    let topics = Topics::default();
    let lyon = site("lyon");
    for kind in TopicKind::ALL {
        let topic = topics.topic(&lyon, kind);
        let command = kind.suffix().starts_with("command/");
        let agent_publishes = check(&topics, &agent("lyon"), PUBLISH, &topic).is_ok();
        let api_publishes = check(&topics, &api(), PUBLISH, &topic).is_ok();
        let agent_reads = check(&topics, &agent("lyon"), Action::Subscribe, &topic).is_ok();
        let api_reads = check(&topics, &api(), Action::Subscribe, &topic).is_ok();
        assert_eq!(agent_publishes, !command, "{kind}");
        assert_eq!(api_reads, !command, "{kind}");
        assert_eq!(api_publishes, command, "{kind}");
        assert_eq!(agent_reads, command, "{kind}");
        let retained = check(&topics, &agent("lyon"), RETAINED, &topic).is_ok();
        assert_eq!(
            retained,
            kind.retained(),
            "{kind}: retained as the contract says"
        );
    }
}

#[test]
fn labels_are_stable_and_distinct() {
    let all = [
        AclRefusal::Malformed,
        AclRefusal::Sys,
        AclRefusal::Share,
        AclRefusal::OtherRoot,
        AclRefusal::Wildcard,
        AclRefusal::OtherSite,
        AclRefusal::Retain,
        AclRefusal::NotAllowed,
    ];
    let labels: std::collections::BTreeSet<_> = all.iter().map(|r| r.label()).collect();
    assert_eq!(labels.len(), all.len());
    assert_eq!(AclRefusal::OtherSite.label(), "other_site");
    assert_eq!(AclRefusal::NotAllowed.label(), "not_allowed");
}

/// The path of a file of the repository, from this crate.
fn repository_file(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

#[test]
fn the_shipped_mosquitto_acl_is_the_generated_one() {
    let shipped = std::fs::read_to_string(repository_file("deploy/mosquitto/acl"))
        .expect("deploy/mosquitto/acl exists");
    assert_eq!(
        shipped,
        render::mosquitto(&Topics::default()),
        "regenerate with `smsgw-api mqtt-acl --format mosquitto > deploy/mosquitto/acl`"
    );
}

#[test]
fn the_mosquitto_acl_holds_every_rule() {
    let acl = render::mosquitto(&Topics::new("acme/prod/smsgw").expect("root"));
    let lines: Vec<&str> = acl
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert_eq!(
        lines,
        [
            "pattern write acme/prod/smsgw/%u/event/status",
            "pattern write acme/prod/smsgw/%u/event/inbound",
            "pattern write acme/prod/smsgw/%u/state/conn",
            "pattern write acme/prod/smsgw/%u/state/modems",
            "pattern read acme/prod/smsgw/%u/command/+",
            "user smsgw-api",
            "topic write acme/prod/smsgw/+/command/+",
            "topic write acme/prod/smsgw/_broker/revocations",
            "topic read acme/prod/smsgw/+/event/#",
            "topic read acme/prod/smsgw/+/state/+",
        ]
    );
}

#[test]
fn the_shipped_emqx_acl_is_the_generated_one() {
    let shipped = std::fs::read_to_string(repository_file("deploy/emqx/acl.conf"))
        .expect("deploy/emqx/acl.conf exists");
    assert_eq!(
        shipped,
        render::emqx(&Topics::default(), &[site("lyon"), site("paris")]),
        "regenerate with `smsgw-api mqtt-acl --format emqx --site lyon --site paris > deploy/emqx/acl.conf`"
    );
}

#[test]
fn the_shipped_emqx_configuration_ties_credentials_to_client_ids_and_denies_the_rest() {
    let conf = std::fs::read_to_string(repository_file("deploy/emqx/emqx.conf"))
        .expect("deploy/emqx/emqx.conf exists");
    let audience = format!("aud = \"{}\"", crate::credentials::MQTT_AUDIENCE);
    for needed in [
        "mechanism = jwt",
        "from = password",
        "algorithm = \"public-key\"",
        "sub = \"${clientid}\"",
        audience.as_str(),
        "no_match = deny",
        "deny_action = disconnect",
        "type = file",
    ] {
        assert!(
            conf.contains(needed),
            "deploy/emqx/emqx.conf lacks {needed}"
        );
    }
}

mod emqx;
