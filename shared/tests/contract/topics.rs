//! Topics: every kind built and parsed back, under the default and a custom root.

use smsgw_shared::{
    SiteId, TopicKind, Topics,
    topic::{DEFAULT_ROOT, TopicError},
};

fn site(s: &str) -> SiteId {
    s.parse().expect("valid site id")
}

#[test]
fn every_kind_round_trips() {
    for topics in [
        Topics::default(),
        Topics::new("acme/prod/sms").expect("valid root"),
    ] {
        for kind in TopicKind::ALL {
            let topic = topics.topic(&site("paris01"), kind);
            assert_eq!(topics.parse(&topic), Ok((site("paris01"), kind)), "{topic}");
        }
    }
}

#[test]
fn topic_names_follow_the_contract() {
    let t = Topics::default();
    let s = site("lyon");
    assert_eq!(DEFAULT_ROOT, "smsgw");
    assert_eq!(
        t.topic(&s, TopicKind::CommandSend),
        "smsgw/lyon/command/send"
    );
    assert_eq!(
        t.topic(&s, TopicKind::CommandCancel),
        "smsgw/lyon/command/cancel"
    );
    assert_eq!(t.topic(&s, TopicKind::CommandAck), "smsgw/lyon/command/ack");
    assert_eq!(
        t.topic(&s, TopicKind::EventStatus),
        "smsgw/lyon/event/status"
    );
    assert_eq!(
        t.topic(&s, TopicKind::EventInbound),
        "smsgw/lyon/event/inbound"
    );
    assert_eq!(t.topic(&s, TopicKind::StateConn), "smsgw/lyon/state/conn");
    assert_eq!(
        t.topic(&s, TopicKind::StateModems),
        "smsgw/lyon/state/modems"
    );
    assert_eq!(t.api_events(), "$share/smsgw-api/smsgw/+/event/#");
    assert_eq!(t.agent_commands(&s), "smsgw/lyon/command/+");
    assert_eq!(t.api_states(), "smsgw/+/state/+");
    assert_eq!(t.all_sites(TopicKind::StateConn), "smsgw/+/state/conn");
    assert!(TopicKind::StateConn.retained() && TopicKind::StateModems.retained());
    assert!(!TopicKind::CommandSend.retained() && !TopicKind::EventStatus.retained());
}

#[test]
fn foreign_and_malformed_topics_are_refused() {
    let t = Topics::default();
    assert!(matches!(
        t.parse("other/lyon/command/send"),
        Err(TopicError::OtherRoot(_))
    ));
    assert!(matches!(
        t.parse("smsgwx/lyon/command/send"),
        Err(TopicError::OtherRoot(_))
    ));
    assert!(matches!(
        t.parse("smsgw/Lyon/command/send"),
        Err(TopicError::BadSite { .. })
    ));
    assert!(matches!(
        t.parse("smsgw/+/command/send"),
        Err(TopicError::BadSite { .. })
    ));
    assert!(matches!(
        t.parse("smsgw/lyon/command/reboot"),
        Err(TopicError::UnknownKind(_))
    ));
    assert!(matches!(
        t.parse("smsgw/lyon"),
        Err(TopicError::UnknownKind(_))
    ));
    assert!(matches!(
        t.parse("smsgw/lyon/command/send/x"),
        Err(TopicError::UnknownKind(_))
    ));
}

#[test]
fn roots_are_checked() {
    for bad in ["", "a//b", "a/+", "#", "$SYS", "/smsgw", "smsgw/"] {
        assert_eq!(
            Topics::new(bad),
            Err(TopicError::BadRoot(bad.into())),
            "{bad:?}"
        );
    }
    assert_eq!(
        Topics::new("x").map(|t| t.root().to_owned()),
        Ok("x".into())
    );
}
