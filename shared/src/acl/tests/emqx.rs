//! The generated EMQX `acl.conf`, read back with EMQX's matching rules (first matching
//! rule wins, `+` and `#` as `emqx_topic:match/2` treats them, a shared subscription
//! authorized as its topic) and compared with [`check`] on attacks and legitimate paths.
//! EMQX cannot run here; this is what keeps the file honest.

use super::{PUBLISH, RETAINED, WILL, agent, api, site};
use crate::{
    acl::{Action, check, render},
    credentials::MqttPrincipal,
    topic::{TopicKind, Topics},
};

/// The regular expression the API rule uses; [`who_matches`] implements exactly it.
const API_CLIENT_ID_RE: &str = "^api-[A-Za-z0-9_-]{1,64}$";

#[derive(Debug)]
enum Who {
    ClientId(String),
    ClientIdRe(String),
    All,
}

#[derive(Debug, PartialEq)]
enum EmqxAction {
    Subscribe,
    Publish,
    PublishNotRetained,
    All,
}

#[derive(Debug)]
struct EmqxRule {
    allow: bool,
    who: Who,
    action: EmqxAction,
    topics: Vec<String>,
}

/// Reads the rules of our generated file (its own shapes only: a line we do not know
/// fails the test).
fn parse(acl: &str) -> Vec<EmqxRule> {
    let mut rules = Vec::new();
    for line in acl.lines() {
        if line.is_empty() || line.starts_with("%%") {
            continue;
        }
        if line == "{deny, all}." {
            rules.push(EmqxRule {
                allow: false,
                who: Who::All,
                action: EmqxAction::All,
                topics: vec!["#".into()],
            });
            continue;
        }
        let rest = line.strip_prefix("{allow, ").expect("an allow rule");
        let (who, rest) = if let Some(re) = rest.strip_prefix("{clientid, {re, \"") {
            let (re, rest) = re.split_once("\"}}, ").expect("end of the regex");
            (Who::ClientIdRe(re.to_owned()), rest)
        } else {
            let id = rest.strip_prefix("{clientid, \"").expect("a client id");
            let (id, rest) = id.split_once("\"}, ").expect("end of the client id");
            (Who::ClientId(id.to_owned()), rest)
        };
        let (action, rest) = if let Some(rest) = rest.strip_prefix("subscribe, ") {
            (EmqxAction::Subscribe, rest)
        } else if let Some(rest) = rest.strip_prefix("{publish, [{retain, false}]}, ") {
            (EmqxAction::PublishNotRetained, rest)
        } else if let Some(rest) = rest.strip_prefix("publish, ") {
            (EmqxAction::Publish, rest)
        } else {
            panic!("unknown action in {line}");
        };
        let topics = rest
            .strip_prefix("[\"")
            .and_then(|t| t.strip_suffix("\"]}."))
            .expect("a topic list")
            .split("\", \"")
            .map(str::to_owned)
            .collect();
        rules.push(EmqxRule {
            allow: true,
            who,
            action,
            topics,
        });
    }
    rules
}

/// `emqx_topic:match(Name, Filter)`: the client's topic or filter against a rule's filter.
fn emqx_match(name: &str, filter: &str) -> bool {
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut names = name.split('/');
    let mut filters = filter.split('/');
    loop {
        match (names.next(), filters.next()) {
            (None, None) => return true,
            (_, Some("#")) => return filters.next().is_none(),
            (Some(n), Some(f)) if n == f || f == "+" => {}
            _ => return false,
        }
    }
}

fn who_matches(who: &Who, client_id: &str) -> bool {
    match who {
        Who::All => true,
        Who::ClientId(id) => id == client_id,
        Who::ClientIdRe(re) => {
            assert_eq!(
                re, API_CLIENT_ID_RE,
                "the evaluator knows this expression only"
            );
            client_id.strip_prefix("api-").is_some_and(|rest| {
                (1..=64).contains(&rest.len())
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            })
        }
    }
}

/// EMQX's decision for `client_id` doing `action` on `topic`.
fn emqx_allows(rules: &[EmqxRule], client_id: &str, action: Action, topic: &str) -> bool {
    // A topic name with a wildcard is a protocol error before any authorization.
    if !matches!(action, Action::Subscribe) && topic.contains(['+', '#']) {
        return false;
    }
    let topic = match (action, topic.strip_prefix("$share/")) {
        (Action::Subscribe, Some(shared)) => shared.split_once('/').map_or(topic, |(_, t)| t),
        _ => topic,
    };
    for rule in rules {
        let action_matches = match (&rule.action, action) {
            (EmqxAction::All, _) => true,
            (EmqxAction::Subscribe, Action::Subscribe) => true,
            (EmqxAction::Publish, Action::Publish { .. } | Action::Will { .. }) => true,
            (
                EmqxAction::PublishNotRetained,
                Action::Publish { retain } | Action::Will { retain },
            ) => !retain,
            _ => false,
        };
        if action_matches
            && who_matches(&rule.who, client_id)
            && rule.topics.iter().any(|f| emqx_match(topic, f))
        {
            return rule.allow;
        }
    }
    false
}

#[test]
fn emqx_with_the_generated_file_decides_as_check_does() {
    let topics = Topics::default();
    let sites = [site("lyon"), site("paris")];
    let rules = parse(&render::emqx(&topics, &sites));
    let mut probes: Vec<String> = Vec::new();
    for id in ["lyon", "paris", "bbb"] {
        let s = site(id);
        probes.extend(TopicKind::ALL.iter().map(|k| topics.topic(&s, *k)));
        probes.push(topics.agent_commands(&s));
        probes.push(format!("smsgw/{id}/#"));
        probes.push(format!("smsgw/{id}/command/#"));
        probes.push(format!("$share/smsgw-api/smsgw/{id}/command/+"));
    }
    probes.extend(
        [
            "#",
            "+/#",
            "smsgw/#",
            "smsgw/+/command/send",
            "smsgw/+/command/+",
            "smsgw/+/event/#",
            "$share/smsgw-api/smsgw/+/event/#",
            "$share/g/smsgw/+/event/#",
            "smsgw/+/state/+",
            "$SYS/#",
            "smsgw/_broker/revocations",
            "other/lyon/event/status",
        ]
        .map(str::to_owned),
    );
    let principals = [agent("lyon"), agent("paris"), api()];
    let actions = [PUBLISH, RETAINED, WILL, Action::Subscribe];
    let mut differences = Vec::new();
    for principal in &principals {
        for action in actions {
            for probe in &probes {
                let ours = check(&topics, principal, action, probe).is_ok();
                let theirs = emqx_allows(&rules, &principal.client_id(), action, probe);
                assert!(
                    !ours || theirs,
                    "EMQX refuses a legitimate {principal:?} {action:?} {probe}"
                );
                if theirs && !ours {
                    differences.push((principal.client_id(), probe.clone()));
                }
            }
        }
    }
    // What EMQX allows beyond smsgw-broker, all within the client's own scope: a shared
    // group is not part of EMQX's check, and its `+` also covers a `#` of the client.
    let expected: Vec<(String, String)> = [
        ("agent-lyon", "smsgw/lyon/command/#"),
        ("agent-lyon", "$share/smsgw-api/smsgw/lyon/command/+"),
        ("agent-paris", "smsgw/paris/command/#"),
        ("agent-paris", "$share/smsgw-api/smsgw/paris/command/+"),
        ("api-7f3a", "$share/g/smsgw/+/event/#"),
    ]
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .into();
    assert_eq!(differences, expected);
    // A site missing from the file can do nothing at all.
    let unknown = MqttPrincipal::Agent(site("bbb")).client_id();
    for probe in &probes {
        for action in actions {
            assert!(!emqx_allows(&rules, &unknown, action, probe), "{probe}");
        }
    }
}
