//! The crate's client against the crate's simulator, for every firmware family: the USSD
//! exchange (balance answer, busy network, no answer, network timeout, unsupported,
//! malformed codes, a dialog someone else left open, two exchanges at once).
//!
//! The simulator itself is checked over plain HTTP (`tests/sim.rs`) and with huawei-lte-api
//! (`tests/sim_python.rs`), the client against recorded replies and scripted devices
//! (`tests/client_fixtures.rs`, `tests/client_flow.rs`); here the two halves meet.

use std::time::Duration;

use hilink::model::ussd::CodeProblem;
use hilink::sim::{Profile, SimConfig, SimHandle, Simulator, Timings, UssdReply, UssdService};
use hilink::{Client, Config, Error, ErrorClass, UssdError};

const USERNAME: &str = "admin";
const PASSWORD: &str = "Sim-Pa55";
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

async fn start(profile: Profile) -> SimHandle {
    Simulator::start(
        SimConfig::new(profile)
            .with_timings(Timings::fast())
            .with_credentials(USERNAME, PASSWORD),
    )
    .await
    .expect("simulator starts")
}

fn client(sim: &SimHandle) -> Client {
    Client::new(Config {
        request_timeout: Duration::from_secs(5),
        ussd_poll_interval: Duration::from_millis(20),
        ..Config::new(sim.base_url()).with_credentials(USERNAME, PASSWORD)
    })
    .expect("client")
}

fn ussd_error(result: Result<hilink::UssdAnswer, Error>) -> UssdError {
    match result {
        Err(Error::Ussd(e)) => e,
        other => panic!("expected a USSD error, got {other:?}"),
    }
}

const PROFILES: [Profile; 3] = [Profile::E303, Profile::E3372h, Profile::E3372h320];

#[tokio::test]
async fn ussd_answers_and_errors_on_every_family() {
    for profile in PROFILES {
        let sim = start(profile).await;
        sim.set_ussd_reply("*104#", UssdReply::Unsupported);
        let client = client(&sim);

        let balance = client
            .ussd(UssdService::BALANCE, ANSWER_WITHIN)
            .await
            .unwrap_or_else(|e| panic!("{profile}: {e}"));
        assert_eq!(balance.content, UssdService::BALANCE_ANSWER, "{profile}");
        assert_eq!(balance.code.as_str(), UssdService::BALANCE);
        assert!(
            !sim.ussd_dialog_open(),
            "{profile}: released after the answer"
        );

        let unknown = client.ussd("*999#", ANSWER_WITHIN).await.unwrap();
        assert_eq!(unknown.content, UssdService::UNKNOWN_ANSWER);

        let busy = ussd_error(client.ussd(UssdService::BUSY, ANSWER_WITHIN).await);
        assert_eq!(busy, UssdError::Busy { code: 111013 }, "{profile}");
        assert_eq!(busy.class(), ErrorClass::Retryable);

        let limit = Duration::from_millis(300);
        let silent = ussd_error(client.ussd(UssdService::NO_ANSWER, limit).await);
        assert_eq!(silent, UssdError::Timeout(limit), "{profile}");
        assert!(
            !sim.ussd_dialog_open(),
            "{profile}: a timed-out dialog is released"
        );

        let gave_up = ussd_error(
            client
                .ussd(UssdService::NETWORK_TIMEOUT, ANSWER_WITHIN)
                .await,
        );
        assert_eq!(gave_up, UssdError::NetworkTimeout, "{profile}");

        let unsupported = ussd_error(client.ussd("*104#", ANSWER_WITHIN).await);
        assert_eq!(unsupported, UssdError::Unsupported { code: 111022 });
        assert_eq!(unsupported.class(), ErrorClass::Permanent);

        let forwarded_before = sim.ussd_requests().len();
        for bad in ["*100", "", "hello", "*1 0#"] {
            let refused = ussd_error(client.ussd(bad, ANSWER_WITHIN).await);
            assert!(
                matches!(refused, UssdError::InvalidCode(_)),
                "{profile} {bad:?}: {refused:?}"
            );
        }
        assert_eq!(
            ussd_error(client.ussd("", ANSWER_WITHIN).await),
            UssdError::InvalidCode(CodeProblem::Empty)
        );
        assert_eq!(
            sim.ussd_requests().len(),
            forwarded_before,
            "{profile}: malformed codes never reach the device"
        );
        let codes: Vec<_> = sim.ussd_requests().into_iter().map(|r| r.code).collect();
        assert_eq!(
            codes,
            ["*100#", "*999#", "*101#", "*102#", "*103#", "*104#"],
            "{profile}"
        );

        // The rest of the client still works on the same session afterwards.
        assert_eq!(client.sms_count().await.unwrap().local_max, 500);
    }
}

#[tokio::test]
async fn two_exchanges_at_once_take_turns() {
    for profile in PROFILES {
        let sim = start(profile).await;
        let client = client(&sim);
        let (first, second) = tokio::join!(
            client.ussd(UssdService::BALANCE, ANSWER_WITHIN),
            client.ussd("*135#", ANSWER_WITHIN),
        );
        assert_eq!(
            first.unwrap().content,
            UssdService::BALANCE_ANSWER,
            "{profile}"
        );
        assert_eq!(second.unwrap().content, UssdService::UNKNOWN_ANSWER);
    }
}

#[tokio::test]
async fn a_dialog_left_open_is_released_first() {
    // A person on the WebUI (here: a plain request to the E303, which needs no session)
    // started a code the network never answers; the agent's balance query still goes through.
    let sim = start(Profile::E303).await;
    let http = reqwest::Client::new();
    let opened = http
        .post(format!("{}api/ussd/send", sim.base_url()))
        .body("<request><content>*102#</content><codeType>CodeType</codeType><timeout></timeout></request>")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(opened.contains("<response>OK</response>"), "{opened}");
    assert!(sim.ussd_dialog_open());
    let balance = client(&sim)
        .ussd(UssdService::BALANCE, ANSWER_WITHIN)
        .await
        .unwrap();
    assert_eq!(balance.content, UssdService::BALANCE_ANSWER);
}

#[tokio::test]
async fn a_session_that_expires_mid_exchange_is_rebuilt() {
    let sim = start(Profile::E3372h320).await;
    sim.set_timings(Timings {
        ussd_delay: Duration::from_millis(200),
        ..Timings::fast()
    });
    let client = client(&sim);
    assert!(client.sms_count().await.is_ok());
    let exchange = client.ussd(UssdService::BALANCE, ANSWER_WITHIN);
    let expire = async {
        tokio::time::sleep(Duration::from_millis(80)).await;
        sim.expire_sessions();
    };
    let (answer, ()) = tokio::join!(exchange, expire);
    assert_eq!(answer.unwrap().content, UssdService::BALANCE_ANSWER);
}
