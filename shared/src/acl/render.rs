//! The rule table of [`super`] as the ACL files of third-party brokers, so that a
//! deployment on Mosquitto or EMQX enforces the rules smsgw-broker enforces.
//!
//! What these brokers cannot express is said in the files they get: neither refuses a
//! subscription for its filter the way smsgw-broker does (Mosquitto 2.0 grants every
//! SUBSCRIBE and filters each delivered message by the read rules), and Mosquitto cannot
//! refuse a retained message on a topic it allows. `smsgw-api mqtt-acl` prints these files
//! (`deploy/mosquitto/acl` and `deploy/emqx/acl.conf` are its output, checked by tests).

use std::fmt::Write as _;

use super::{AGENT_RULES, API_RULES, Access, Rule, SITE};
use crate::{
    credentials::{AGENT_PREFIX, API_MQTT_USERNAME, API_PREFIX},
    ids::SiteId,
    topic::Topics,
};

/// A Mosquitto `acl_file`. Agents log in with their site id as user name (the agent's
/// default), so `%u` stands for the site in `pattern` lines; API replicas log in as
/// [`API_MQTT_USERNAME`]. Mosquitto applies `pattern` lines to every user, the API's too:
/// they only name topics under a site called `smsgw-api`, which no site id can be.
pub fn mosquitto(topics: &Topics) -> String {
    let root = topics.root();
    let mut out = format!(
        "# smsgw topic rules for Mosquitto, topic root {root:?}.\n\
         # Generated from the rule table of smsgw-shared (shared/src/acl) by\n\
         #   smsgw-api mqtt-acl --format mosquitto --root {root}\n\
         # Regenerate instead of editing.\n\
         #\n\
         # Mosquitto grants every SUBSCRIBE and checks each delivered message against the\n\
         # read rules, and it cannot refuse a retained message on a topic it allows:\n\
         # smsgw-broker refuses both (see broker/README.md).\n\
         \n\
         # Branch agents log in with their site id as user name: %u is the site.\n"
    );
    for rule in AGENT_RULES {
        let pattern = rule.pattern.replace(SITE, "%u");
        let _ = writeln!(out, "pattern {} {root}/{pattern}", mosquitto_access(rule));
    }
    let _ = write!(
        out,
        "\n# API replicas log in as {API_MQTT_USERNAME} (SMSGW_MQTT_USERNAME). Mosquitto checks\n\
         # the messages of a shared subscription ($share/...) against these read rules.\n\
         user {API_MQTT_USERNAME}\n"
    );
    for rule in API_RULES {
        let _ = writeln!(
            out,
            "topic {} {root}/{}",
            mosquitto_access(rule),
            rule.pattern
        );
    }
    out
}

fn mosquitto_access(rule: &Rule) -> &'static str {
    match rule.access {
        Access::Publish => "write",
        Access::Subscribe => "read",
    }
}

/// An EMQX file authorization source (`acl.conf`, EMQX 5.1.1 or later for the retain
/// conditions). EMQX's file rules cannot take the site out of the client id, so every site
/// in `sites` gets its own rules, bound to the client id `agent-{site}` that the JWT
/// authenticator ties to the credential (`verify_claims { sub = "${clientid}" }`, see
/// `deploy/emqx/`); regenerate when sites are added. Everything else is denied.
pub fn emqx(topics: &Topics, sites: &[SiteId]) -> String {
    let root = topics.root();
    let mut args = String::new();
    for site in sites {
        let _ = write!(args, " --site {site}");
    }
    let mut out = format!(
        "%% smsgw topic rules for EMQX (authorization source of type file), topic root {root:?}.\n\
         %% Generated from the rule table of smsgw-shared (shared/src/acl) by\n\
         %%   smsgw-api mqtt-acl --format emqx --root {root}{args}\n\
         %% Regenerate when a site is added, instead of editing: each site has its own rules,\n\
         %% bound to its client id, which the JWT authenticator ties to the credential.\n\
         %% Needs EMQX 5.1.1 or later (retain conditions) and authorization.no_match = deny.\n"
    );
    for site in sites {
        let who = format!("{{clientid, \"{AGENT_PREFIX}{site}\"}}");
        let _ = write!(out, "\n%% The agent of site {site}.\n");
        emqx_rules(&mut out, &who, root, AGENT_RULES, Some(site));
    }
    let who = format!("{{clientid, {{re, \"^{API_PREFIX}[A-Za-z0-9_-]{{1,64}}$\"}}}}");
    out.push_str(
        "\n%% API replicas (client id api-...; shared subscriptions are checked as their topic).\n",
    );
    emqx_rules(&mut out, &who, root, API_RULES, None);
    out.push_str("\n%% Nothing else.\n{deny, all}.\n");
    out
}

/// One line per (access, retain) group of `rules`, in table order.
fn emqx_rules(out: &mut String, who: &str, root: &str, rules: &[Rule], site: Option<&SiteId>) {
    let mut groups: Vec<(Access, bool, Vec<String>)> = Vec::new();
    for rule in rules {
        let pattern = match site {
            Some(site) => rule.pattern.replace(SITE, site.as_str()),
            None => rule.pattern.to_owned(),
        };
        let topic = format!("\"{root}/{pattern}\"");
        let key = (rule.access, rule.retain || rule.access == Access::Subscribe);
        match groups.iter_mut().find(|(a, r, _)| (*a, *r) == key) {
            Some((_, _, topics)) => topics.push(topic),
            None => groups.push((key.0, key.1, vec![topic])),
        }
    }
    for (access, retain_allowed, topics) in groups {
        let action = match (access, retain_allowed) {
            (Access::Subscribe, _) => "subscribe",
            (Access::Publish, true) => "publish",
            (Access::Publish, false) => "{publish, [{retain, false}]}",
        };
        let _ = writeln!(out, "{{allow, {who}, {action}, [{}]}}.", topics.join(", "));
    }
}
