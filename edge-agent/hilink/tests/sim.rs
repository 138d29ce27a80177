//! The simulator's behaviour over plain HTTP, profile by profile: session and token rules,
//! login, format checks, storage, send progress, delivery reports, faults and the control
//! API. The requests are written out by hand so that these tests do not depend on the
//! crate's client.

use std::time::Duration;

use hilink::sim::{Availability, Profile, SendFault, SimConfig, SimHandle, Simulator, Timings};
use reqwest::header::HeaderMap;

const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

async fn start(profile: Profile, timings: Timings) -> SimHandle {
    Simulator::start(SimConfig::new(profile).with_timings(timings))
        .await
        .expect("simulator starts")
}

/// A hand-rolled HiLink client: keeps the cookie and the newest token.
struct Dev {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
    token: Option<String>,
}

/// A reply: headers and body.
struct Answer {
    headers: HeaderMap,
    body: String,
}

impl Answer {
    /// The device error code, if the body is an `<error>`.
    fn code(&self) -> Option<u32> {
        self.body.contains("<error>").then(|| {
            self.field("code")
                .and_then(|c| c.parse().ok())
                .expect("error code")
        })
    }

    /// The text of the first `<name>` element.
    fn field(&self, name: &str) -> Option<String> {
        let open = format!("<{name}>");
        let start = self.body.find(&open)? + open.len();
        let end = self.body[start..].find(&format!("</{name}>"))? + start;
        Some(self.body[start..end].to_owned())
    }

    /// The text of every `<name>` element.
    fn fields(&self, name: &str) -> Vec<String> {
        let (open, close) = (format!("<{name}>"), format!("</{name}>"));
        let mut out = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find(&open) {
            let after = &rest[i + open.len()..];
            let Some(j) = after.find(&close) else { break };
            out.push(after[..j].to_owned());
            rest = &after[j..];
        }
        out
    }

    fn is_ok(&self) -> bool {
        self.body.contains("<response>OK</response>")
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

impl Dev {
    fn new(sim: &SimHandle) -> Self {
        Dev {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
            base: sim.base_url(),
            cookie: None,
            token: None,
        }
    }

    /// `GET /`, keeping the cookie it sets.
    async fn home(&mut self) -> Answer {
        let answer = self.raw_get("").await;
        if let Some(set) = answer.header("set-cookie") {
            let pair = set.split(';').next().unwrap();
            self.cookie = Some(pair.trim_start_matches("SessionID=").to_owned());
        }
        answer
    }

    /// `GET /` and `webserver/token`: what huawei-lte-api does first.
    async fn open(&mut self) {
        self.home().await;
        let answer = self.get("webserver/token").await;
        self.token = Some(answer.field("token").expect("token"));
    }

    async fn raw_get(&self, path: &str) -> Answer {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", format!("SessionID={cookie}"));
        }
        let response = request.send().await.expect("GET answered");
        assert_eq!(response.status(), 200);
        Answer {
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&self, api: &str) -> Answer {
        self.raw_get(&format!("api/{api}")).await
    }

    /// POSTs `body` with the cookie and current token; adopts the reply's token.
    async fn post(&mut self, api: &str, body: &str) -> Answer {
        let token = self.token.clone();
        self.post_with(api, body, token.as_deref(), "application/xml")
            .await
    }

    async fn post_with(
        &mut self,
        api: &str,
        body: &str,
        token: Option<&str>,
        content_type: &str,
    ) -> Answer {
        let mut request = self
            .http
            .post(format!("{}api/{api}", self.base))
            .header("Content-Type", content_type)
            .body(body.to_owned());
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", format!("SessionID={cookie}"));
        }
        if let Some(token) = token {
            request = request.header("__RequestVerificationToken", token);
        }
        let response = request.send().await.expect("POST answered");
        assert_eq!(response.status(), 200);
        let answer = Answer {
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        };
        if let Some(next) = answer.header("__RequestVerificationToken") {
            self.token = Some(next);
        }
        answer
    }

    async fn send(&mut self, to: &str, text: &str) -> Answer {
        let body = format!(
            "{DECL}<request><Index>-1</Index><Phones><Phone>{to}</Phone></Phones><Sca></Sca><Content>{text}</Content><Length>{}</Length><Reserved>1</Reserved><Date>2026-01-01 10:00:00</Date></request>",
            text.len()
        );
        self.post("sms/send-sms", &body).await
    }

    async fn list(&mut self, box_type: u32) -> Answer {
        let body = format!(
            "{DECL}<request><PageIndex>1</PageIndex><ReadCount>50</ReadCount><BoxType>{box_type}</BoxType><SortType>0</SortType><Ascending>0</Ascending><UnreadPreferred>0</UnreadPreferred></request>"
        );
        self.post("sms/sms-list", &body).await
    }

    /// Polls send-status until `Phone` is empty.
    async fn wait_sent(&self) -> Answer {
        for _ in 0..100 {
            let status = self.get("sms/send-status").await;
            if status.field("Phone").as_deref() == Some("") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("send did not finish");
    }
}

#[tokio::test]
async fn replies_look_like_the_device() {
    let sim = start(Profile::E3372h, Timings::fast()).await;
    let mut dev = Dev::new(&sim);
    let home = dev.home().await;
    assert!(home.header("set-cookie").unwrap().starts_with("SessionID="));
    assert_eq!(home.header("content-type").as_deref(), Some("text/html"));
    let info = dev.get("device/information").await;
    assert_eq!(info.header("content-type").as_deref(), Some("text/html"));
    assert!(info.body.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n\t<DeviceName>E3372</DeviceName>\n"
    ));
    let unknown = dev.get("nothing/here").await;
    assert_eq!(unknown.code(), Some(100002));
    assert_eq!(
        unknown.body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n<code>100002</code>\n<message></message>\n</error>\n"
    );
    assert_eq!(
        dev.raw_get("config/global/config.xml").await.code(),
        Some(100002)
    );
    for api in [
        "monitoring/status",
        "net/current-plmn",
        "device/signal",
        "monitoring/check-notifications",
        "sms/sms-count",
        "sms/config",
        "monitoring/traffic-statistics",
    ] {
        let answer = dev.get(api).await;
        assert_eq!(answer.code(), None, "{api}: {}", answer.body);
    }
    assert_eq!(
        dev.get("monitoring/status")
            .await
            .field("ConnectionStatus")
            .as_deref(),
        Some("901")
    );
    assert_eq!(
        dev.get("device/signal").await.field("rsrp").as_deref(),
        Some("-89dBm")
    );
    assert_eq!(
        dev.get("net/current-plmn").await.field("Rat").as_deref(),
        Some("7")
    );
    assert_eq!(
        dev.get("user/hilink_login")
            .await
            .field("hilink_login")
            .as_deref(),
        Some("0")
    );
}

#[tokio::test]
async fn e303_needs_no_session_or_token() {
    let sim = start(
        Profile::E303,
        Timings {
            send_duration: Duration::ZERO,
            ..Timings::fast()
        },
    )
    .await;
    let mut dev = Dev::new(&sim);
    assert_eq!(dev.home().await.header("set-cookie"), None);
    assert_eq!(dev.get("webserver/token").await.code(), Some(100002));
    assert_eq!(dev.get("webserver/SesTokInfo").await.code(), Some(100002));
    assert_eq!(
        dev.get("device/information")
            .await
            .field("DeviceName")
            .as_deref(),
        Some("E303")
    );
    // No declaration, no token, no cookie.
    let answer = dev
        .post_with("sms/send-sms", "<request><Index>-1</Index><Phones><Phone>+4917000001</Phone></Phones><Sca/><Content>hi</Content><Length>2</Length><Reserved>1</Reserved><Date>2026-01-01 10:00:00</Date></request>", None, "text/xml")
        .await;
    assert!(answer.is_ok(), "{}", answer.body);
    assert_eq!(answer.header("__RequestVerificationToken"), None);
    assert_eq!(
        dev.wait_sent().await.field("SucPhone").as_deref(),
        Some("+4917000001")
    );
    assert_eq!(sim.ledger().len(), 1);
}

#[tokio::test]
async fn e3372h_session_and_token_rules() {
    let sim = start(Profile::E3372h, Timings::fast()).await;
    let mut dev = Dev::new(&sim);
    // Without the cookie even GETs fail.
    assert_eq!(dev.get("webserver/token").await.code(), Some(125002));
    assert_eq!(dev.get("device/information").await.code(), Some(125002));
    dev.open().await;
    assert_eq!(dev.get("device/information").await.code(), None);
    // GET / again keeps a live session.
    let cookie = dev.cookie.clone();
    dev.home().await;
    assert_eq!(dev.cookie, cookie);
    let list = format!(
        "{DECL}<request><PageIndex>1</PageIndex><ReadCount>20</ReadCount><BoxType>1</BoxType><SortType>0</SortType><Ascending>0</Ascending><UnreadPreferred>0</UnreadPreferred></request>"
    );
    // No token: 125003; an unknown token: 125001. Neither hands out a new token.
    let answer = dev
        .post_with("sms/sms-list", &list, None, "application/xml")
        .await;
    assert_eq!(answer.code(), Some(125003));
    assert_eq!(answer.header("__RequestVerificationToken"), None);
    let bogus = "A".repeat(32);
    assert_eq!(
        dev.post_with("sms/sms-list", &list, Some(&bogus), "application/xml")
            .await
            .code(),
        Some(125001)
    );
    // huawei-lte-api's pattern: T1, T1 again, then each reply token one behind.
    let t1 = dev.token.clone().unwrap();
    let first = dev
        .post_with("sms/sms-list", &list, Some(&t1), "application/xml")
        .await;
    assert_eq!(first.code(), None);
    let r2 = first.header("__RequestVerificationToken").unwrap();
    assert_eq!(r2.len(), 32);
    assert_ne!(r2, t1);
    let second = dev
        .post_with("sms/sms-list", &list, Some(&t1), "application/xml")
        .await;
    assert_eq!(second.code(), None, "the previous token is still accepted");
    let third = dev
        .post_with("sms/sms-list", &list, Some(&r2), "application/xml")
        .await;
    assert_eq!(third.code(), None);
    // Two tokens back is too old.
    assert_eq!(
        dev.post_with("sms/sms-list", &list, Some(&t1), "application/xml")
            .await
            .code(),
        Some(125001)
    );
    // The POST reply closes the connection, like the device.
    assert_eq!(third.header("connection").as_deref(), Some("close"));
}

#[tokio::test]
async fn ses_tok_info_opens_a_session_and_sessions_expire() {
    let sim = start(Profile::E3372h, Timings::fast()).await;
    let mut dev = Dev::new(&sim);
    let info = dev.get("webserver/SesTokInfo").await;
    let ses = info.field("SesInfo").unwrap();
    let id = ses
        .strip_prefix("SessionID=")
        .expect("22.x sends the cookie form");
    assert_eq!(id.len(), 128);
    dev.cookie = Some(id.to_owned());
    dev.token = info.field("TokInfo");
    assert!(dev.send("+4917000002", "via SesTokInfo").await.is_ok());
    // The LK pattern: a fresh SesTokInfo before every request keeps the same session.
    let again = dev.get("webserver/SesTokInfo").await;
    assert_eq!(again.field("SesInfo").as_deref(), Some(ses.as_str()));
    sim.expire_sessions();
    assert_eq!(dev.get("sms/sms-count").await.code(), Some(125002));
    assert_eq!(dev.send("+4917000002", "stale").await.code(), Some(125002));
    dev.open().await;
    assert_eq!(dev.get("sms/sms-count").await.code(), None);
}

#[tokio::test]
async fn e3372h_320_requires_login_and_compact_xml() {
    let sim =
        Simulator::start(SimConfig::new(Profile::E3372h320).with_credentials("admin", "s3cret"))
            .await
            .unwrap();
    let mut dev = Dev::new(&sim);
    dev.open().await;
    assert_eq!(
        dev.get("user/hilink_login")
            .await
            .field("hilink_login")
            .as_deref(),
        Some("1")
    );
    let state = dev.get("user/state-login").await;
    assert_eq!(state.field("State").as_deref(), Some("-1"));
    assert_eq!(state.field("password_type").as_deref(), Some("4"));
    assert_eq!(dev.get("device/information").await.code(), Some(100003));
    assert_eq!(dev.get("sms/sms-count").await.code(), Some(100003));
    // SesInfo without the prefix on this firmware.
    let ses = dev
        .get("webserver/SesTokInfo")
        .await
        .field("SesInfo")
        .unwrap();
    assert!(!ses.starts_with("SessionID="));

    let login = |token: &str, password: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><Username>admin</Username><Password>{}</Password><password_type>4</password_type></request>",
            hilink_password(password, token)
        )
    };
    let token = dev.token.clone().unwrap();
    let wrong = dev.post("user/login", &login(&token, "nope")).await;
    assert_eq!(wrong.code(), Some(108006));
    let token = dev.token.clone().unwrap();
    let old_cookie = dev.cookie.clone().unwrap();
    let ok = dev.post("user/login", &login(&token, "s3cret")).await;
    assert!(ok.is_ok(), "{}", ok.body);
    let set = ok.header("set-cookie").expect("login rotates the session");
    let new_cookie = set
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("SessionID=")
        .to_owned();
    assert_ne!(new_cookie, old_cookie);
    dev.cookie = Some(old_cookie);
    assert_eq!(dev.get("sms/sms-count").await.code(), Some(125002));
    dev.cookie = Some(new_cookie);
    assert_eq!(
        dev.get("sms/sms-count").await.field("SimMax").as_deref(),
        Some("100")
    );
    assert_eq!(
        dev.get("user/state-login").await.field("State").as_deref(),
        Some("0")
    );
    let info = dev.get("device/information").await;
    assert!(
        info.body
            .contains("<SoftwareVersion>10.0.3.1&#40;H192SP1C983&#41;</SoftwareVersion>")
    );

    // Pretty-printed XML is refused; a newline after the declaration is not pretty.
    let pretty = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<request>\n\t<PageIndex>1</PageIndex>\n\t<ReadCount>20</ReadCount>\n\t<BoxType>1</BoxType>\n</request>\n";
    assert_eq!(dev.post("sms/sms-list", pretty).await.code(), Some(100005));
    let compact = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<request><PageIndex>1</PageIndex><ReadCount>20</ReadCount><BoxType>1</BoxType></request>";
    assert_eq!(
        dev.post("sms/sms-list", compact)
            .await
            .field("Count")
            .as_deref(),
        Some("0")
    );

    // 10.x answers 113114 for a message that does not exist.
    let missing = dev
        .post("sms/delete-sms", "<request><Index>49999</Index></request>")
        .await;
    assert_eq!(missing.code(), Some(113114));

    assert!(
        dev.post("user/logout", "<request><Logout>1</Logout></request>")
            .await
            .is_ok()
    );
    assert_eq!(dev.get("sms/sms-count").await.code(), Some(100003));
}

/// password_type 4, written out from the protocol notes for this test.
fn hilink_password(password: &str, token: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let inner = b64.encode(hex::encode(sha2::Sha256::digest(password.as_bytes())));
    b64.encode(hex::encode(sha2::Sha256::digest(
        format!("admin{inner}{token}").as_bytes(),
    )))
}

#[tokio::test]
async fn e3372h_320_scram_login() {
    let sim = start(Profile::E3372h320, Timings::fast()).await;
    let mut dev = Dev::new(&sim);
    dev.open().await;
    let state = dev.get("user/state-login").await;
    assert_eq!(state.field("extern_password_type").as_deref(), Some("1"));
    let first = "6513d4a1bfa0d6b3a7e3320dc6b3b1cd703a479d4958b5e1462658d75f0c5029";
    let challenge = dev
        .post("user/challenge_login", &format!("{DECL}<request><username>admin</username><firstnonce>{first}</firstnonce><mode>1</mode></request>"))
        .await;
    let salt = hex::decode(challenge.field("salt").unwrap()).unwrap();
    let iterations: u32 = challenge.field("iterations").unwrap().parse().unwrap();
    let server_nonce = challenge.field("servernonce").unwrap();
    assert!(server_nonce.starts_with(first) && server_nonce.len() == first.len() + 32);
    let keys = hilink::auth::scram("admin", &salt, iterations, first, &server_nonce);
    let auth = dev
        .post("user/authentication_login", &format!("{DECL}<request><clientproof>{}</clientproof><finalnonce>{server_nonce}</finalnonce></request>", hex::encode(keys.client_proof)))
        .await;
    assert_eq!(auth.code(), None, "{}", auth.body);
    assert_eq!(
        auth.field("serversignature"),
        Some(hex::encode(keys.server_signature))
    );
    let one = auth
        .header("__RequestVerificationTokenone")
        .expect("token one");
    assert!(auth.header("__RequestVerificationTokentwo").is_some());
    let set = auth.header("set-cookie").unwrap();
    dev.cookie = Some(
        set.split(';')
            .next()
            .unwrap()
            .trim_start_matches("SessionID=")
            .to_owned(),
    );
    dev.token = Some(one);
    assert_eq!(dev.get("sms/sms-count").await.code(), None);
    assert!(dev.send("+4917000003", "after scram").await.is_ok());

    // A wrong proof is refused.
    let mut other = Dev::new(&sim);
    other.open().await;
    other
        .post("user/challenge_login", &format!("{DECL}<request><username>admin</username><firstnonce>{first}</firstnonce><mode>1</mode></request>"))
        .await;
    let bad = other
        .post(
            "user/authentication_login",
            &format!(
                "{DECL}<request><clientproof>{}</clientproof><finalnonce>x</finalnonce></request>",
                "0".repeat(64)
            ),
        )
        .await;
    assert_eq!(bad.code(), Some(108006));
}

#[tokio::test]
async fn send_status_progresses_and_the_sent_box_fills() {
    let sim = start(
        Profile::E3372h,
        Timings {
            send_duration: Duration::from_millis(1000),
            ..Timings::fast()
        },
    )
    .await;
    let mut dev = Dev::new(&sim);
    dev.open().await;
    let idle = dev.get("sms/send-status").await;
    assert_eq!(idle.field("TotalCount").as_deref(), Some("0"));
    // Escaped content comes out unescaped in the ledger; Length and Date are not checked.
    assert!(
        dev.send("+4917000004", "fish &amp; chips &lt;3")
            .await
            .is_ok()
    );
    let busy = dev.get("sms/send-status").await;
    assert_eq!(busy.field("Phone").as_deref(), Some("+4917000004"));
    assert_eq!(busy.field("TotalCount").as_deref(), Some("1"));
    assert_eq!(busy.field("CurIndex").as_deref(), Some("1"));
    assert_eq!(busy.field("SucPhone").as_deref(), Some(""));
    assert!(sim.ledger().is_empty(), "not on the air yet");
    // A second send while the first is under way.
    assert_eq!(
        dev.send("+4917000005", "too soon").await.code(),
        Some(113018)
    );
    let done = dev.wait_sent().await;
    assert_eq!(done.field("SucPhone").as_deref(), Some("+4917000004"));
    assert_eq!(done.field("FailPhone").as_deref(), Some(""));
    let ledger = sim.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].to, "+4917000004");
    assert_eq!(ledger[0].text, "fish & chips <3");
    let sent = dev.list(2).await;
    assert_eq!(sent.field("Count").as_deref(), Some("1"));
    assert_eq!(sent.field("Smstat").as_deref(), Some("3"));
    assert_eq!(sent.field("Index"), Some(ledger[0].index.to_string()));
    assert_eq!(
        sent.field("Content").as_deref(),
        Some("fish &amp; chips &lt;3")
    );
    assert_eq!(
        dev.get("sms/sms-count")
            .await
            .field("LocalOutbox")
            .as_deref(),
        Some("1")
    );

    // Two recipients and a long text: TotalCount is parts × recipients.
    let long = "y".repeat(200);
    let body = format!(
        "{DECL}<request><Index>-1</Index><Phones><Phone>+1</Phone><Phone>+2</Phone></Phones><Sca></Sca><Content>{long}</Content><Length>200</Length><Reserved>1</Reserved><Date>2026-01-01 10:00:00</Date></request>"
    );
    assert!(dev.post("sms/send-sms", &body).await.is_ok());
    let status = dev.get("sms/send-status").await;
    assert_eq!(status.field("Phone").as_deref(), Some("+1,+2"));
    assert_eq!(status.field("TotalCount").as_deref(), Some("4"));
    let done = dev.wait_sent().await;
    assert_eq!(done.field("SucPhone").as_deref(), Some("+1,+2"));
    assert_eq!(done.field("CurIndex").as_deref(), Some("4"));
    assert_eq!(sim.ledger()[2].parts, 2);
}

#[tokio::test]
async fn delivery_reports_arrive_when_requested() {
    let sim = start(Profile::E3372h, Timings::fast()).await;
    let mut dev = Dev::new(&sim);
    dev.open().await;
    assert_eq!(
        dev.get("sms/config").await.field("UseSReport").as_deref(),
        Some("0")
    );
    // huawei-lte-api sends a Python bool.
    let config = format!(
        "{DECL}<request><SaveMode>0</SaveMode><Validity>10752</Validity><Sca></Sca><UseSReport>true</UseSReport><SendType>1</SendType><Priority>0</Priority></request>"
    );
    assert!(dev.post("sms/config", &config).await.is_ok());
    assert_eq!(
        dev.get("sms/config").await.field("UseSReport").as_deref(),
        Some("1")
    );
    sim.fail_next_reports(1);
    assert!(dev.send("+4917000006", "first").await.is_ok());
    dev.wait_sent().await;
    assert!(dev.send("+4917000007", "second").await.is_ok());
    dev.wait_sent().await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let inbox = dev.list(1).await;
    assert_eq!(inbox.field("Count").as_deref(), Some("2"), "{}", inbox.body);
    let types = inbox.fields("SmsType");
    let phones = inbox.fields("Phone");
    let mut reports: Vec<_> = phones.iter().zip(types.iter()).collect();
    reports.sort();
    assert_eq!(
        reports,
        [
            (&"+4917000006".to_owned(), &"8".to_owned()),
            (&"+4917000007".to_owned(), &"7".to_owned())
        ]
    );
    assert_eq!(
        dev.get("monitoring/check-notifications")
            .await
            .field("UnreadMessage")
            .as_deref(),
        Some("2")
    );
    // Off again: no more reports.
    let off = config.replace("true", "0");
    assert!(dev.post("sms/config", &off).await.is_ok());
    assert!(dev.send("+4917000008", "third").await.is_ok());
    dev.wait_sent().await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(dev.list(1).await.field("Count").as_deref(), Some("2"));
}

#[tokio::test]
async fn storage_full_refuses_sends_and_holds_inbound() {
    let sim = start(Profile::E3372h, Timings::fast()).await;
    let mut dev = Dev::new(&sim);
    dev.open().await;
    sim.fill_storage(1);
    assert_eq!(
        dev.get("monitoring/check-notifications")
            .await
            .field("SmsStorageFull")
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        sim.inject_inbound("+4917000009", "fits", false)
            .indices
            .len(),
        1
    );
    let notes = dev.get("monitoring/check-notifications").await;
    assert_eq!(notes.field("SmsStorageFull").as_deref(), Some("1"));
    let count = dev.get("sms/sms-count").await;
    assert_eq!(count.field("LocalInbox").as_deref(), Some("500"));
    assert_eq!(count.field("LocalMax").as_deref(), Some("500"));
    assert_eq!(
        dev.send("+4917000010", "no room").await.code(),
        Some(113053)
    );
    let held = sim.inject_inbound("+4917000011", "waits in the network", false);
    assert_eq!(held.queued, 1);
    let unread = dev.list(1).await;
    let index = unread.field("Index").unwrap();
    assert!(
        dev.post(
            "sms/delete-sms",
            &format!("<request><Index>{index}</Index></request>")
        )
        .await
        .is_ok()
    );
    let inbox = dev.list(1).await;
    assert!(
        inbox
            .fields("Content")
            .iter()
            .any(|c| c == "waits in the network")
    );
}

#[tokio::test]
async fn min_gap_and_injected_send_faults() {
    let sim = start(
        Profile::E3372h,
        Timings {
            send_duration: Duration::ZERO,
            min_send_gap: Duration::from_millis(1000),
            ..Timings::fast()
        },
    )
    .await;
    let mut dev = Dev::new(&sim);
    dev.open().await;
    assert!(dev.send("+4917000012", "one").await.is_ok());
    assert_eq!(dev.send("+4917000012", "two").await.code(), Some(113004));
    tokio::time::sleep(Duration::from_millis(1050)).await;
    sim.fail_next_sends(1, SendFault::Overtime);
    sim.fail_next_sends(1, SendFault::Busy);
    sim.fail_next_sends(1, SendFault::FailPhone);
    assert_eq!(dev.send("+4917000012", "three").await.code(), Some(113018));
    assert_eq!(dev.send("+4917000012", "three").await.code(), Some(100004));
    assert!(dev.send("+4917000012", "three").await.is_ok());
    let failed = dev.wait_sent().await;
    assert_eq!(failed.field("FailPhone").as_deref(), Some("+4917000012"));
    assert_eq!(failed.field("SucPhone").as_deref(), Some(""));
    // The failed send is a draft, not on the air.
    assert_eq!(dev.list(3).await.field("Content").as_deref(), Some("three"));
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert!(dev.send("+4917000012", "four").await.is_ok());
    dev.wait_sent().await;
    let texts: Vec<_> = sim.ledger().into_iter().map(|e| e.text).collect();
    assert_eq!(texts, ["one", "four"]);
}

#[tokio::test]
async fn inbox_listing_reading_and_deleting() {
    let sim = start(Profile::E3372h, Timings::fast()).await;
    let mut dev = Dev::new(&sim);
    dev.open().await;
    let first = sim
        .inject_inbound("+4917000013", "first <&>", false)
        .indices[0];
    let second = sim.inject_inbound("+4917000014", "second", false).indices[0];
    let long = "z".repeat(300);
    let joined = sim.inject_inbound("+4917000015", &long, false);
    assert_eq!(joined.indices.len(), 1);
    let split = sim.inject_inbound("+4917000016", &long, true);
    assert_eq!(split.indices.len(), 2);

    let inbox = dev.list(1).await;
    assert_eq!(inbox.field("Count").as_deref(), Some("5"));
    // Newest first by default.
    assert_eq!(inbox.fields("Index")[0], split.indices[1].to_string());
    assert!(
        inbox
            .body
            .contains("<Content>first &lt;&amp;&gt;</Content>")
    );
    let types = inbox.fields("SmsType");
    assert_eq!(types, ["2", "2", "2", "1", "1"]);
    let contents = inbox.fields("Content");
    assert_eq!(contents[0].len() + contents[1].len(), 300);

    // Paging, ascending order.
    let page = |n: u32| {
        format!(
            "{DECL}<request><PageIndex>{n}</PageIndex><ReadCount>2</ReadCount><BoxType>1</BoxType><SortType>0</SortType><Ascending>1</Ascending><UnreadPreferred>0</UnreadPreferred></request>"
        )
    };
    let p1 = dev.post("sms/sms-list", &page(1)).await;
    assert_eq!(p1.fields("Index"), [first.to_string(), second.to_string()]);
    let p3 = dev.post("sms/sms-list", &page(3)).await;
    assert_eq!(p3.field("Count").as_deref(), Some("1"));
    let p4 = dev.post("sms/sms-list", &page(4)).await;
    assert_eq!(p4.field("Count").as_deref(), Some("0"));
    assert!(p4.body.contains("<Messages>\n\t</Messages>"));

    // set-read and UnreadPreferred.
    assert!(
        dev.post(
            "sms/set-read",
            &format!("<request><Index>{second}</Index></request>")
        )
        .await
        .is_ok()
    );
    let count = dev.get("sms/sms-count").await;
    assert_eq!(count.field("LocalUnread").as_deref(), Some("4"));
    assert_eq!(count.field("LocalInbox").as_deref(), Some("5"));
    let preferred = format!(
        "{DECL}<request><PageIndex>1</PageIndex><ReadCount>20</ReadCount><BoxType>1</BoxType><SortType>0</SortType><Ascending>1</Ascending><UnreadPreferred>1</UnreadPreferred></request>"
    );
    let listed = dev.post("sms/sms-list", &preferred).await;
    assert_eq!(listed.fields("Index").last(), Some(&second.to_string()));
    assert_eq!(
        listed.fields("Smstat").last().map(String::as_str),
        Some("1")
    );

    // Several indices at once, and an unknown one (ignored on 22.x).
    let delete = format!(
        "<?xml version:\"1.0\" encoding=\"UTF-8\"?><request><Index>{first}</Index><Index>{second}</Index><Index>49999</Index></request>"
    );
    assert!(dev.post("sms/delete-sms", &delete).await.is_ok());
    assert_eq!(
        dev.get("sms/sms-count")
            .await
            .field("LocalInbox")
            .as_deref(),
        Some("3")
    );
    // SIM boxes are empty.
    assert_eq!(dev.list(5).await.field("Count").as_deref(), Some("0"));
}

#[tokio::test]
async fn lenient_request_parsing() {
    let sim = start(
        Profile::E3372h,
        Timings {
            send_duration: Duration::ZERO,
            ..Timings::fast()
        },
    )
    .await;
    let mut dev = Dev::new(&sim);
    dev.open().await;
    let bodies = [
        (
            "application/x-www-form-urlencoded; charset=UTF-8",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><Index>-1</Index><Phones><Phone>+5</Phone></Phones><Sca></Sca><Content>form</Content><Length>11</Length><Reserved>1</Reserved><Date>2018-02-13 22:21:30</Date></request>",
        ),
        (
            "text/xml",
            "<?xml version:\"1.0\" encoding=\"UTF-8\"?><request><Index>-1</Index><Phones><Phone>+5</Phone></Phones><Sca/><Content>bad decl</Content><Length>0</Length><Reserved>2</Reserved><Date>2026-11-25 17:00:00</Date></request>",
        ),
        (
            "application/xml",
            "<request><Index>-1</Index><Phones><Phone>+5</Phone></Phones><Sca></Sca><Content>no decl &#40;x&#41;</Content><Length>999</Length><Reserved>0</Reserved><Date>2026-11-25 17:00:00</Date><SendType>0</SendType></request>",
        ),
    ];
    for (content_type, body) in bodies {
        let token = dev.token.clone();
        let answer = dev
            .post_with("sms/send-sms", body, token.as_deref(), content_type)
            .await;
        assert!(answer.is_ok(), "{content_type}: {}", answer.body);
        dev.wait_sent().await;
    }
    let texts: Vec<_> = sim.ledger().into_iter().map(|e| e.text).collect();
    assert_eq!(texts, ["form", "bad decl", "no decl (x)"]);
    // Broken XML is a format error, not a crash.
    assert_eq!(
        dev.post("sms/send-sms", "<request><Phones>").await.code(),
        Some(100005)
    );
    assert_eq!(
        dev.post(
            "sms/sms-list",
            "<request><PageIndex>x</PageIndex></request>"
        )
        .await
        .code(),
        Some(100006)
    );
    assert_eq!(
        dev.post("sms/delete-sms", "<request></request>")
            .await
            .code(),
        Some(100005)
    );
    assert_eq!(
        dev.post("device/control", "<request><Control>9</Control></request>")
            .await
            .code(),
        Some(100006)
    );
}

#[tokio::test]
async fn reboot_ends_sessions() {
    let sim = start(Profile::E3372h, Timings::fast()).await;
    let mut dev = Dev::new(&sim);
    dev.open().await;
    assert!(
        dev.post("device/control", "<request><Control>1</Control></request>")
            .await
            .is_ok()
    );
    assert_eq!(dev.get("sms/sms-count").await.code(), Some(125002));
}

#[tokio::test]
async fn offline_refuses_or_hangs() {
    let sim = start(Profile::E303, Timings::fast()).await;
    let dev = Dev::new(&sim);
    assert_eq!(dev.get("sms/sms-count").await.code(), None);

    sim.set_availability(Availability::Refuse, None);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = reqwest::get(format!("{}api/sms/sms-count", sim.base_url())).await;
    assert!(refused.is_err(), "connection refused while offline");
    let kept = dev
        .http
        .get(format!("{}api/sms/sms-count", sim.base_url()))
        .send()
        .await;
    assert!(kept.is_err(), "a kept-alive connection breaks too");
    sim.set_availability(Availability::Online, None);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(dev.get("sms/sms-count").await.code(), None);

    sim.set_availability(Availability::Hang, None);
    let hung = dev
        .http
        .get(format!("{}api/sms/sms-count", sim.base_url()))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung.unwrap_err().is_timeout());
    // Back by itself after the given time.
    sim.set_availability(Availability::Refuse, Some(Duration::from_millis(200)));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(sim.availability(), Availability::Online);
    assert_eq!(dev.get("sms/sms-count").await.code(), None);
}

/// GETs a control API URL and parses its JSON.
async fn get_json(http: &reqwest::Client, url: &str) -> serde_json::Value {
    let response = http.get(url).send().await.expect("control API answers");
    serde_json::from_str(&response.text().await.unwrap()).expect("JSON")
}

#[tokio::test]
async fn control_api_over_http() {
    let sim = Simulator::start(SimConfig {
        control_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..SimConfig::new(Profile::E3372h).with_timings(Timings {
            send_duration: Duration::ZERO,
            ..Timings::fast()
        })
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let control = format!("http://{}/sim/", sim.control_addr.unwrap());
    let call = |path: &str, body: serde_json::Value| {
        let request = http
            .post(format!("{}sim/{path}", sim.base_url()))
            .header("Content-Type", "application/json")
            .body(body.to_string());
        let path = path.to_owned();
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            serde_json::from_str::<serde_json::Value>(&response.text().await.unwrap()).unwrap()
        }
    };
    let outcome = call(
        "inbound",
        serde_json::json!({"from": "+4917000017", "text": "x".repeat(170), "split": true}),
    )
    .await;
    assert_eq!(outcome["indices"].as_array().unwrap().len(), 2);
    call(
        "fail-sends",
        serde_json::json!({"count": 1, "fault": {"code": 113017}}),
    )
    .await;
    call("fail-number", serde_json::json!({"phone": "+4917000099"})).await;
    call("fail-reports", serde_json::json!({"count": 2})).await;
    call("timings", serde_json::json!({"min_send_gap_ms": 0})).await;

    let mut dev = Dev::new(&sim);
    dev.open().await;
    assert_eq!(dev.send("+4917000018", "x").await.code(), Some(113017));
    assert!(dev.send("+4917000018", "y").await.is_ok());
    dev.wait_sent().await;
    assert!(dev.send("+4917000099", "z").await.is_ok());
    assert_eq!(
        dev.wait_sent().await.field("FailPhone").as_deref(),
        Some("+4917000099")
    );

    let ledger = get_json(&http, &format!("{}sim/ledger", sim.base_url())).await;
    let ledger = ledger.as_array().unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0]["to"], "+4917000018");
    assert_eq!(ledger[0]["text"], "y");
    assert!(ledger[0]["time"].as_str().unwrap().contains('T'));
    assert!(ledger[0]["index"].as_u64().unwrap() >= 40000);

    call("expire-sessions", serde_json::json!({})).await;
    assert_eq!(dev.get("sms/sms-count").await.code(), Some(125002));
    call("fill-storage", serde_json::json!({})).await;
    let state = get_json(&http, &format!("{}sim/state", sim.base_url())).await;
    assert_eq!(state["counts"]["local_max"], 500);
    assert_eq!(state["profile"], "e3372h");

    // The control listener stays up while the device refuses connections.
    call("offline", serde_json::json!({"mode": "refuse"})).await;
    assert!(
        reqwest::get(format!("{}api/sms/sms-count", sim.base_url()))
            .await
            .is_err()
    );
    let back = http.post(format!("{control}online")).send().await.unwrap();
    assert_eq!(back.status(), 200);
    call("reset", serde_json::json!({})).await;
    assert!(sim.ledger().is_empty());
    assert!(sim.messages().is_empty());
}

#[tokio::test]
async fn the_binary_prints_its_address() {
    let Some(exe) = option_env!("CARGO_BIN_EXE_hilink-sim") else {
        eprintln!("hilink-sim binary not built in this configuration; skipped");
        return;
    };
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(exe)
        .args([
            "--profile",
            "e3372h-320",
            "--addr",
            "127.0.0.1:0",
            "--password",
            "pw",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("address line");
    let body = reqwest::get(format!("{url}/api/user/hilink_login"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error>\n<code>125002</code>\n<message></message>\n</error>\n"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn concurrent_calls_on_one_session_clash_when_calls_take_time() {
    let sim = start(
        Profile::E3372h,
        Timings {
            request_latency: Duration::from_millis(300),
            ..Timings::fast()
        },
    )
    .await;
    let mut dev = Dev::new(&sim);
    dev.open().await;
    let (a, b) = tokio::join!(dev.get("sms/sms-count"), dev.get("monitoring/status"));
    let mut codes = [a.code(), b.code()];
    codes.sort();
    assert_eq!(codes, [None, Some(125002)]);
    // One at a time is fine, and the session survives.
    assert_eq!(dev.get("sms/sms-count").await.code(), None);
    assert_eq!(dev.get("monitoring/status").await.code(), None);
}

/// Polls `ussd/get` until it stops saying 111019.
async fn ussd_answer(dev: &Dev) -> Answer {
    for _ in 0..100 {
        let answer = dev.get("ussd/get").await;
        if answer.code() != Some(111019) {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("ussd/get kept saying 111019");
}

fn ussd_send_body(code: &str) -> String {
    format!(
        "{DECL}<request><content>{code}</content><codeType>CodeType</codeType><timeout></timeout></request>"
    )
}

#[tokio::test]
async fn ussd_dialogs_like_an_operator() {
    let sim = start(
        Profile::E3372h,
        Timings {
            ussd_delay: Duration::from_millis(300),
            ..Timings::fast()
        },
    )
    .await;
    let mut dev = Dev::new(&sim);
    dev.open().await;
    // Session rules apply: no token, no USSD.
    let no_token = dev
        .post_with("ussd/send", &ussd_send_body("*100#"), None, "text/xml")
        .await;
    assert_eq!(no_token.code(), Some(125003));

    assert_eq!(
        dev.get("ussd/status").await.field("result").as_deref(),
        Some("0")
    );
    assert!(
        dev.post("ussd/send", &ussd_send_body("*100#"))
            .await
            .is_ok()
    );
    // The network takes its time: the device says "no answer yet" and the dialog is open.
    assert_eq!(dev.get("ussd/get").await.code(), Some(111019));
    assert_eq!(
        dev.get("ussd/status").await.field("result").as_deref(),
        Some("1")
    );
    assert_eq!(
        dev.post("ussd/send", &ussd_send_body("*999#")).await.code(),
        Some(111013),
        "one dialog at a time"
    );
    let answer = ussd_answer(&dev).await;
    assert_eq!(
        answer.field("content").as_deref(),
        Some(hilink::sim::UssdService::BALANCE_ANSWER)
    );
    assert_eq!(
        dev.get("ussd/status").await.field("result").as_deref(),
        Some("0")
    );

    // Busy network, network timeout, a code that never answers, malformed codes.
    assert!(
        dev.post("ussd/send", &ussd_send_body("*101#"))
            .await
            .is_ok()
    );
    assert_eq!(ussd_answer(&dev).await.code(), Some(111013));
    assert!(
        dev.post("ussd/send", &ussd_send_body("*103#"))
            .await
            .is_ok()
    );
    assert_eq!(ussd_answer(&dev).await.code(), Some(111020));
    assert!(
        dev.post("ussd/send", &ussd_send_body("*102#"))
            .await
            .is_ok()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(dev.get("ussd/get").await.code(), Some(111019));
    assert!(dev.get("ussd/release").await.is_ok());
    assert_eq!(
        dev.get("ussd/status").await.field("result").as_deref(),
        Some("0")
    );
    for (code, expected) in [("*100", 100006), ("", 111016), ("*12a#", 100006)] {
        assert_eq!(
            dev.post("ussd/send", &ussd_send_body(code)).await.code(),
            Some(expected),
            "{code:?}"
        );
    }
    let forwarded: Vec<_> = sim.ussd_requests().into_iter().map(|r| r.code).collect();
    assert_eq!(forwarded, ["*100#", "*101#", "*103#", "*102#"]);

    // The control API changes the table and shows what the network got.
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}sim/ussd", sim.base_url()))
        .header("Content-Type", "application/json")
        .body(r#"{"code":"*135#","reply":{"answer":"Your number is +4915100000"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    http.post(format!("{}sim/ussd", sim.base_url()))
        .header("Content-Type", "application/json")
        .body(r#"{"code":"*136#","reply":"unsupported"}"#)
        .send()
        .await
        .unwrap();
    assert!(
        dev.post("ussd/send", &ussd_send_body("*135#"))
            .await
            .is_ok()
    );
    assert_eq!(
        ussd_answer(&dev).await.field("content").as_deref(),
        Some("Your number is +4915100000")
    );
    assert_eq!(
        dev.post("ussd/send", &ussd_send_body("*136#")).await.code(),
        Some(111022)
    );
    let view = get_json(&http, &format!("{}sim/ussd", sim.base_url())).await;
    assert_eq!(view["dialog_open"], false);
    assert_eq!(view["service"]["replies"]["*101#"], "busy");
    assert_eq!(view["requests"].as_array().unwrap().len(), 6);
    sim.reset();
    assert!(sim.ussd_requests().is_empty());
    assert!(!sim.ussd_service().replies.contains_key("*135#"));
}

#[tokio::test]
async fn ussd_needs_login_on_the_e3372h_320_and_nothing_on_the_e303() {
    let e320 = start(Profile::E3372h320, Timings::fast()).await;
    let mut dev = Dev::new(&e320);
    dev.open().await;
    assert_eq!(dev.get("ussd/status").await.code(), Some(100003));
    assert_eq!(
        dev.post("ussd/send", &ussd_send_body("*100#")).await.code(),
        Some(100003)
    );
    let e303 = start(Profile::E303, Timings::fast()).await;
    let mut dev = Dev::new(&e303);
    assert!(
        dev.post("ussd/send", &ussd_send_body("*100#"))
            .await
            .is_ok()
    );
    assert_eq!(
        ussd_answer(&dev).await.field("content").as_deref(),
        Some(hilink::sim::UssdService::BALANCE_ANSWER)
    );
}
