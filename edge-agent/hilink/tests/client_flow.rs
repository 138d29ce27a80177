//! The client's session flows against small scripted devices.
//!
//! Each test runs a minimal HTTP/1.1 server on a raw tokio listener that plays one firmware
//! family exactly as the protocol notes describe it (reply headers written byte for byte, e.g.
//! `__RequestVerificationToken:<token>` without a space). The full simulator (`hilink::sim`)
//! is built separately; the agent's tests drive the client against it. These tests pin the
//! client's own protocol steps: token rotation, session rebuild, login type 4 and SCRAM.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hilink::model::sms::{BoxType, SmsListRequest};
use hilink::{Client, Config, Error, ErrorClass, auth, code};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request as the fake device saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    fn token(&self) -> Option<&str> {
        self.header("__RequestVerificationToken")
    }
    fn cookie(&self) -> Option<&str> {
        self.header("cookie")
    }
    fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// What the fake device answers.
#[derive(Debug, Default)]
struct Reply {
    /// Raw header lines, written as given.
    headers: Vec<String>,
    body: Vec<u8>,
    /// Never answer (to test timeouts).
    hang: bool,
    /// Wait this long before answering.
    delay: Option<Duration>,
    /// Status line other than `200 OK`, e.g. `302 Found`.
    status: Option<&'static str>,
}

fn xml(body: &str) -> Reply {
    Reply {
        body: format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}\n").into_bytes(),
        ..Reply::default()
    }
}

fn ok() -> Reply {
    xml("<response>OK</response>")
}

fn error(code: u32) -> Reply {
    xml(&format!(
        "<error>\n<code>{code}</code>\n<message></message>\n</error>"
    ))
}

impl Reply {
    fn header(mut self, line: impl Into<String>) -> Self {
        self.headers.push(line.into());
        self
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

/// A running fake device and the requests it has seen.
struct Device {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Requests being answered now, and the most ever at once.
    in_flight: Arc<(AtomicUsize, AtomicUsize)>,
}

impl Device {
    async fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Device {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let in_flight = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
        let (log, counters) = (seen.clone(), in_flight.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (handler, log, counters) = (handler.clone(), log.clone(), counters.clone());
                tokio::spawn(async move {
                    let _ = serve_one(stream, handler, log, counters).await;
                });
            }
        });
        Device {
            url: format!("http://{addr}/"),
            seen,
            in_flight,
        }
    }

    /// A device played by a stateful script that the test can still reach.
    async fn scripted<S: Script + Send + 'static>(script: &Arc<Mutex<S>>) -> Device {
        let script = script.clone();
        Device::start(move |req| script.lock().unwrap().handle(req)).await
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn lines(&self) -> Vec<String> {
        self.seen().iter().map(Seen::line).collect()
    }

    fn posts(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == "POST")
            .collect()
    }

    fn client(&self) -> Client {
        Client::new(self.config()).unwrap()
    }

    fn config(&self) -> Config {
        Config {
            request_timeout: Duration::from_secs(5),
            ..Config::new(&self.url)
        }
    }
}

/// A fake device with state between requests.
trait Script {
    fn handle(&mut self, req: &Seen) -> Reply;
}

/// Reads one request (headers + Content-Length body), answers, closes.
async fn serve_one(
    mut stream: tokio::net::TcpStream,
    handler: Handler,
    log: Arc<Mutex<Vec<Seen>>>,
    in_flight: Arc<(AtomicUsize, AtomicUsize)>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let path = first.next().unwrap_or_default().to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let seen = Seen {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    log.lock().unwrap().push(seen.clone());
    let now = in_flight.0.fetch_add(1, Ordering::SeqCst) + 1;
    in_flight.1.fetch_max(now, Ordering::SeqCst);
    let reply = handler(&seen);
    if reply.hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let mut out = format!(
        "HTTP/1.1 {}\r\nServer: WebServer\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status.unwrap_or("200 OK"),
        reply.body.len()
    );
    for line in &reply.headers {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes()).await?;
    stream.write_all(&reply.body).await?;
    in_flight.0.fetch_sub(1, Ordering::SeqCst);
    stream.shutdown().await
}

const SMS_COUNT: &str = "<response><LocalUnread>0</LocalUnread><LocalInbox>1</LocalInbox><LocalOutbox>0</LocalOutbox><LocalDraft>0</LocalDraft><LocalDeleted>0</LocalDeleted><LocalMax>500</LocalMax></response>";

/// An E3372h 22.x: cookie on every request, single-use tokens rotated in reply headers.
#[derive(Default)]
struct E3372 {
    session: String,
    valid_tokens: Vec<String>,
    issued: usize,
    /// Session generation; bumping it expires every cookie handed out before.
    generation: usize,
}

impl E3372 {
    fn new_token(&mut self) -> String {
        self.issued += 1;
        let token = format!("{:032}", self.issued);
        self.valid_tokens.push(token.clone());
        token
    }
}

impl Script for E3372 {
    fn handle(&mut self, req: &Seen) -> Reply {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/") => {
                self.session = format!("S{}", self.generation);
                self.valid_tokens.clear();
                Reply {
                    body: b"<html><head></head><body>home</body></html>".to_vec(),
                    ..Reply::default()
                }
                .header(format!(
                    "Set-Cookie: SessionID={}; path=/; HttpOnly",
                    self.session
                ))
            }
            _ if req.cookie() != Some(&format!("SessionID={}", self.session))
                || self.session.is_empty() =>
            {
                error(code::WRONG_SESSION)
            }
            ("GET", "/api/webserver/SesTokInfo") => {
                let token = self.new_token();
                xml(&format!(
                    "<response><SesInfo>SessionID={}</SesInfo><TokInfo>{token}</TokInfo></response>",
                    self.session
                ))
            }
            ("GET", "/api/user/hilink_login") => {
                xml("<response><hilink_login>0</hilink_login></response>")
            }
            ("GET", "/api/sms/sms-count") => xml(SMS_COUNT),
            ("POST", _) => {
                let Some(token) = req.token() else {
                    return error(code::WRONG_SESSION_TOKEN);
                };
                let Some(at) = self.valid_tokens.iter().position(|t| t == token) else {
                    return error(code::WRONG_TOKEN);
                };
                self.valid_tokens.remove(at);
                let next = self.new_token();
                let reply = match req.path.as_str() {
                    "/api/sms/sms-list" => {
                        xml("<response><Count>0</Count><Messages></Messages></response>")
                    }
                    _ => ok(),
                };
                reply.header(format!("__RequestVerificationToken:{next}"))
            }
            _ => error(code::NOT_SUPPORTED),
        }
    }
}

#[tokio::test]
async fn e3372_cookie_and_rotating_tokens() {
    let state = Arc::new(Mutex::new(E3372::default()));
    let device = Device::scripted(&state).await;
    let client = device.client();

    client
        .send_sms(&["+4512345678"], "hi & <you>")
        .await
        .unwrap();
    let list = client
        .sms_list(&SmsListRequest::new(BoxType::LocalInbox, 20))
        .await
        .unwrap();
    assert!(list.messages.is_empty());
    client.delete_sms(&[40001, 40002]).await.unwrap();
    let count = client.sms_count().await.unwrap();
    assert_eq!(count.local_inbox, 1);

    assert_eq!(
        device.lines(),
        [
            "GET /",
            "GET /api/webserver/SesTokInfo",
            "GET /api/user/hilink_login",
            "POST /api/sms/send-sms",
            "POST /api/sms/sms-list",
            "POST /api/sms/delete-sms",
            "GET /api/sms/sms-count",
        ]
    );
    let seen = device.seen();
    // The cookie goes with every request after the home page, GETs included; GETs carry no token.
    for req in &seen[1..] {
        assert_eq!(req.cookie(), Some("SessionID=S0"), "{}", req.line());
        if req.method == "GET" {
            assert_eq!(req.token(), None, "{}", req.line());
        }
    }
    // Each POST uses the token handed out just before: SesTokInfo's, then each reply's.
    let tokens: Vec<_> = device
        .posts()
        .iter()
        .map(|p| p.token().unwrap().to_owned())
        .collect();
    assert_eq!(
        tokens,
        [
            format!("{:032}", 1),
            format!("{:032}", 2),
            format!("{:032}", 3)
        ]
    );

    let send = &device.posts()[0];
    assert_eq!(
        send.header("content-type"),
        Some("application/x-www-form-urlencoded; charset=UTF-8")
    );
    let body = &send.body;
    assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><Index>-1</Index><Phones><Phone>+4512345678</Phone></Phones><Sca></Sca><Content>hi &amp; &lt;you&gt;</Content><Length>10</Length><Reserved>1</Reserved><Date>"), "{body}");
    assert!(!body.contains('\n'));
    assert_eq!(
        device.posts()[2].body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><Index>40001</Index><Index>40002</Index></request>"
    );
}

#[tokio::test]
async fn expired_session_is_rebuilt_and_the_call_retried_once() {
    let state = Arc::new(Mutex::new(E3372::default()));
    let device = Device::scripted(&state).await;
    let client = device.client();
    client.sms_count().await.unwrap();

    // The device forgets the session (as after its timeout): the next GET / hands out S1.
    state.lock().unwrap().generation = 1;
    state.lock().unwrap().session = "expired".into();
    client.send_sms(&["+1"], "again").await.unwrap();
    assert_eq!(
        device.lines()[3..],
        [
            "GET /api/sms/sms-count",
            "POST /api/sms/send-sms", // 125002: the device forgot S0
            "GET /",
            "GET /api/webserver/SesTokInfo",
            "GET /api/user/hilink_login",
            "POST /api/sms/send-sms",
        ]
    );
    let last = device.posts().pop().unwrap();
    assert_eq!(last.cookie(), Some("SessionID=S1"));
}

#[tokio::test]
async fn a_session_error_is_retried_only_once() {
    let device = Device::start(|req| match req.path.as_str() {
        "/" => Reply::default().header("Set-Cookie: SessionID=x"),
        "/api/webserver/SesTokInfo" => {
            xml("<response><SesInfo>x</SesInfo><TokInfo>t</TokInfo></response>")
        }
        "/api/user/hilink_login" => xml("<response><hilink_login>0</hilink_login></response>"),
        _ => error(code::WRONG_SESSION_TOKEN),
    })
    .await;
    let err = device.client().sms_count().await.unwrap_err();
    assert_eq!(err.code(), Some(code::WRONG_SESSION_TOKEN));
    assert_eq!(err.class(), ErrorClass::RefreshSession);
    let counts = device
        .lines()
        .iter()
        .filter(|l| *l == "GET /api/sms/sms-count")
        .count();
    assert_eq!(counts, 2);
    assert_eq!(device.lines().iter().filter(|l| *l == "GET /").count(), 2);
}

#[tokio::test]
async fn e303_without_session_or_token() {
    let device = Device::start(|req| match req.path.as_str() {
        "/" => Reply {
            body: b"<html>E303</html>".to_vec(),
            ..Reply::default()
        },
        "/api/sms/send-sms" => ok(),
        "/api/device/signal" => xml("<response><rssi>&gt;=-51dBm</rssi></response>"),
        _ => error(code::NOT_SUPPORTED),
    })
    .await;
    let client = device.client();
    client.send_sms(&["0722060322"], "Привет").await.unwrap();
    assert_eq!(client.signal().await.unwrap().rssi, Some(-51.0));
    assert_eq!(
        device.lines(),
        [
            "GET /",
            "GET /api/webserver/SesTokInfo",
            "GET /api/webserver/token",
            "GET /api/user/hilink_login",
            "POST /api/sms/send-sms",
            "GET /api/device/signal",
        ]
    );
    for req in device.seen() {
        assert_eq!(req.cookie(), None);
        assert_eq!(req.token(), None);
    }
    assert!(
        device.posts()[0]
            .body
            .contains("<Content>Привет</Content><Length>6</Length><Reserved>0</Reserved>")
    );
}

#[tokio::test]
async fn webserver_token_fallback_refetched_when_not_rotated() {
    let issued = Arc::new(AtomicUsize::new(0));
    let n = issued.clone();
    let device = Device::start(move |req| match req.path.as_str() {
        "/" => Reply::default().header("Set-Cookie: SessionID=abc"),
        "/api/webserver/token" => {
            let i = n.fetch_add(1, Ordering::SeqCst);
            // 10.x style: a longer string whose part from character 32 on is the token.
            xml(&format!(
                "<response><token>{}tok{i}</token></response>",
                "x".repeat(32)
            ))
        }
        "/api/user/hilink_login" => xml("<response><hilink_login>0</hilink_login></response>"),
        "/api/sms/set-read" => ok(),
        _ => error(code::NOT_SUPPORTED),
    })
    .await;
    let client = device.client();
    client.set_read(40001).await.unwrap();
    client.set_read(40002).await.unwrap();
    let tokens: Vec<_> = device
        .posts()
        .iter()
        .map(|p| p.token().unwrap().to_owned())
        .collect();
    assert_eq!(tokens, ["tok0", "tok1"]);
    assert_eq!(device.posts()[1].cookie(), Some("SessionID=abc"));
    assert_eq!(
        device.posts()[0].body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><Index>40001</Index></request>"
    );
}

/// An E3372h-320 (10.x) that requires a login; `scram` picks the scheme state-login offers.
struct Locked {
    scram: bool,
    password: String,
    logged_in: bool,
    first_nonce: String,
    wrong_signature: bool,
}

const SALT: &str = "ef08b9902cfb555135d098952c6d4ce629d52a3e835d4831147c96081538113c";

impl Script for Locked {
    fn handle(&mut self, req: &Seen) -> Reply {
        let path = req.path.as_str();
        match path {
            "/" => Reply::default().header("Set-Cookie: SessionID=pre"),
            "/api/webserver/SesTokInfo" => xml(&format!(
                "<response><SesInfo>SessionID=pre</SesInfo><TokInfo>S{}1</TokInfo></response>",
                "0".repeat(30)
            )),
            "/api/user/hilink_login" => xml("<response><hilink_login>1</hilink_login></response>"),
            "/api/user/state-login" => xml(&format!(
                "<response><State>-1</State><Username></Username><password_type>4</password_type><extern_password_type>{}</extern_password_type></response>",
                u8::from(self.scram)
            )),
            "/api/user/login" => {
                let token = req.token().unwrap_or_default();
                let expected = auth::password_type4("admin", &self.password, token);
                if !req.body.contains(&format!(
                    "<Password>{expected}</Password><password_type>4</password_type>"
                )) {
                    return error(code::USERNAME_OR_PASSWORD_WRONG);
                }
                self.logged_in = true;
                ok().header("Set-Cookie: SessionID=post; path=/")
                    .header("__RequestVerificationToken: a#b#c")
            }
            "/api/user/challenge_login" => {
                let first = between(&req.body, "<firstnonce>", "</firstnonce>");
                assert_eq!(first.len(), 64);
                assert!(req.body.contains("<username>admin</username>"));
                assert!(req.body.contains("<mode>1</mode>"));
                self.first_nonce = first.to_owned();
                xml(&format!(
                    "<response><salt>{SALT}</salt><iterations>100</iterations><servernonce>{first}BsP0n8rghqsOgEbevsDvKnn0eCjBfed2</servernonce><modeselected>1</modeselected><newType>0</newType></response>"
                ))
                .header("__RequestVerificationToken: c1")
            }
            "/api/user/authentication_login" => {
                let server_nonce = format!("{}BsP0n8rghqsOgEbevsDvKnn0eCjBfed2", self.first_nonce);
                let salt = hex::decode(SALT).unwrap();
                let keys =
                    auth::scram(&self.password, &salt, 100, &self.first_nonce, &server_nonce);
                let proof = between(&req.body, "<clientproof>", "</clientproof>");
                if proof != hex::encode(keys.client_proof)
                    || between(&req.body, "<finalnonce>", "</finalnonce>") != server_nonce
                {
                    return error(code::USERNAME_OR_PASSWORD_WRONG);
                }
                assert_eq!(
                    req.token(),
                    Some("c1"),
                    "the challenge reply's token is used next"
                );
                self.logged_in = true;
                let mut signature = keys.server_signature;
                if self.wrong_signature {
                    signature[0] ^= 1;
                }
                xml(&format!(
                    "<response><serversignature>{}</serversignature><rsapubkeysignature></rsapubkeysignature><rsae>010001</rsae><rsan>00</rsan></response>",
                    hex::encode(signature)
                ))
                .header("Set-Cookie: SessionID=post")
                .header("__RequestVerificationTokenone: one")
                .header("__RequestVerificationTokentwo: two")
            }
            _ if !self.logged_in || req.cookie() != Some("SessionID=post") => error(code::NO_RIGHT),
            "/api/sms/set-read" | "/api/device/control" => ok(),
            "/api/device/information" => xml(
                "<response><DeviceName>E3372h-320</DeviceName><SoftwareVersion>10.0.2.2&#40;H190SP1C983&#41;</SoftwareVersion></response>",
            ),
            _ => error(code::NOT_SUPPORTED),
        }
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).map(|i| i + open.len()).unwrap_or(0);
    let end = text[start..]
        .find(close)
        .map(|i| i + start)
        .unwrap_or(start);
    &text[start..end]
}

fn locked(scram: bool, password: &str) -> Arc<Mutex<Locked>> {
    Arc::new(Mutex::new(Locked {
        scram,
        password: password.into(),
        logged_in: false,
        first_nonce: String::new(),
        wrong_signature: false,
    }))
}

#[tokio::test]
async fn login_with_password_type_4() {
    let state = locked(false, "secret");
    let device = Device::scripted(&state).await;
    let client = Client::new(device.config().with_credentials("admin", "secret")).unwrap();

    let info = client.device_information().await.unwrap();
    assert_eq!(info.software_version, "10.0.2.2(H190SP1C983)");
    client.set_read(1).await.unwrap();
    client.set_read(2).await.unwrap();

    let posts = device.posts();
    assert_eq!(posts[0].path, "/api/user/login");
    // The vector of the notes: admin / secret / S000…0001.
    assert!(posts[0].body.contains(
        "<Password>ZDViNDA3MWNlNzZiMTk2Y2Q2ZDdkM2MyNDdmN2U4NmZmY2RlZGYwNGM2NzNjYjhiOGRmZThjNGE1MzQwNmQ2OA==</Password>"
    ));
    assert_eq!(
        posts[0].token(),
        Some(format!("S{}1", "0".repeat(30)).as_str())
    );
    // After the login: the new cookie and the `#`-joined tokens in order.
    assert_eq!(posts[1].token(), Some("a"));
    assert_eq!(posts[2].token(), Some("b"));
    assert!(
        posts[1..]
            .iter()
            .all(|p| p.cookie() == Some("SessionID=post"))
    );
}

#[tokio::test]
async fn login_with_scram() {
    let state = locked(true, "test");
    let device = Device::scripted(&state).await;
    let client = Client::new(device.config().with_credentials("admin", "test")).unwrap();
    client.set_read(1).await.unwrap();
    client.set_read(2).await.unwrap();
    let lines = device.lines();
    assert_eq!(
        lines,
        [
            "GET /",
            "GET /api/webserver/SesTokInfo",
            "GET /api/user/hilink_login",
            "GET /api/user/state-login",
            "POST /api/user/challenge_login",
            "POST /api/user/authentication_login",
            "POST /api/sms/set-read",
            "POST /api/sms/set-read",
        ]
    );
    let posts = device.posts();
    assert_eq!(posts[2].token(), Some("one"));
    assert_eq!(posts[3].token(), Some("two"));
}

#[tokio::test]
async fn scram_with_a_wrong_server_signature_fails() {
    let state = locked(true, "test");
    state.lock().unwrap().wrong_signature = true;
    let device = Device::scripted(&state).await;
    let client = Client::new(device.config().with_credentials("admin", "test")).unwrap();
    let err = client.set_read(1).await.unwrap_err();
    assert!(matches!(err, Error::Login(_)), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn wrong_password_and_missing_credentials() {
    let state = locked(false, "secret");
    let device = Device::scripted(&state).await;
    let client = Client::new(device.config().with_credentials("admin", "wrong")).unwrap();
    let err = client.set_read(1).await.unwrap_err();
    assert_eq!(err.code(), Some(code::USERNAME_OR_PASSWORD_WRONG));
    assert_eq!(err.class(), ErrorClass::Permanent);

    let err = device.client().set_read(1).await.unwrap_err();
    assert!(matches!(err, Error::CredentialsMissing), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_are_strictly_serial() {
    let device = Device::start(|req| {
        let reply = match req.path.as_str() {
            "/api/sms/sms-count" => xml(SMS_COUNT),
            _ => error(code::NOT_SUPPORTED),
        };
        Reply {
            delay: Some(Duration::from_millis(20)),
            ..reply
        }
    })
    .await;
    let client = Arc::new(device.client());
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.sms_count().await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(device.lines().len(), 4 + 6);
    assert_eq!(device.in_flight.1.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_transport_errors() {
    let device = Device::start(|req| match req.path.as_str() {
        "/api/sms/sms-count" => Reply {
            hang: true,
            ..Reply::default()
        },
        _ => error(code::NOT_SUPPORTED),
    })
    .await;
    let config = Config {
        request_timeout: Duration::from_millis(300),
        ..device.config()
    };
    let started = std::time::Instant::now();
    let err = Client::new(config).unwrap().sms_count().await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Transport);
    assert!(started.elapsed() < Duration::from_secs(3));

    // Nothing listens on this port any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = Client::new(Config::new(format!("http://{addr}/")))
        .unwrap()
        .sms_count()
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transport);
}

#[tokio::test]
async fn replies_are_decoded_as_utf8_with_cesu8_and_control_characters() {
    let device = Device::start(|req| match req.path.as_str() {
        "/api/sms/sms-list" => {
            let mut body = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<response>\n\t<Count>1</Count>\n\t<Messages>\n\t\t<Message>\n\t\t\t<Smstat>0</Smstat>\n\t\t\t<Index>40001</Index>\n\t\t\t<Phone>+4917</Phone>\n\t\t\t<Content>Gr\xC3\xBC\xC3\x9Fe \x01".to_vec();
            body.extend_from_slice(&hilink::xml::encode_cesu8("\u{1F600}"));
            body.extend_from_slice(b"</Content>\n\t\t\t<Date>2021-04-23 14:17:33</Date>\n\t\t</Message>\n\t</Messages>\n</response>");
            Reply { body, ..Reply::default() }
        }
        _ => error(code::NOT_SUPPORTED),
    })
    .await;
    let list = device
        .client()
        .sms_list(&SmsListRequest::default())
        .await
        .unwrap();
    assert_eq!(list.messages.len(), 1);
    assert_eq!(list.messages[0].content, "Grüße  \u{1F600}");
}

#[tokio::test]
async fn device_errors_keep_their_code_and_class() {
    let device = Device::start(|req| match req.path.as_str() {
        "/api/sms/send-sms" => error(code::SMS_OVERTIME),
        "/api/sms/delete-sms" => error(code::SMS_NOT_FOUND),
        "/api/sms/set-read" => error(code::SMS_STORAGE_FULL),
        "/api/sms/sms-count" => Reply {
            body: b"<html>redirected home</html>".to_vec(),
            ..Reply::default()
        },
        "/api/sms/config" if req.method == "GET" => xml("<response><SaveMode>0</SaveMode><Validity>10752</Validity><Sca>+45</Sca><UseSReport>0</UseSReport><SendType>1</SendType></response>"),
        "/api/sms/config" => ok(),
        _ => error(code::NOT_SUPPORTED),
    })
    .await;
    let client = device.client();
    let err = client.send_sms(&["+1"], "x").await.unwrap_err();
    assert_eq!(
        (err.code(), err.class()),
        (Some(113018), ErrorClass::Retryable)
    );
    // A message already gone counts as deleted.
    client.delete_sms(&[40001]).await.unwrap();
    let err = client.set_read(1).await.unwrap_err();
    assert_eq!(
        (err.code(), err.class()),
        (Some(113053), ErrorClass::Permanent)
    );
    let err = client.sms_count().await.unwrap_err();
    assert!(matches!(err, Error::Malformed(_)), "{err:?}");
    assert!(client.enable_delivery_reports().await.unwrap());
    let write = device.posts().pop().unwrap();
    assert!(write.body.ends_with("<request><SaveMode>0</SaveMode><Validity>10752</Validity><Sca>+45</Sca><UseSReport>1</UseSReport><SendType>1</SendType><Priority>0</Priority></request>"), "{}", write.body);
}

#[tokio::test]
async fn home_page_redirect_cookie_and_meta_tokens() {
    let device = Device::start(|req| match req.path.as_str() {
        "/" => Reply {
            status: Some("302 Found"),
            ..Reply::default()
        }
        .header("Location: /html/home.html")
        .header("Set-Cookie: SessionID=r1; path=/"),
        "/html/home.html" => Reply {
            body: br#"<html><head><meta name="csrf_token" content="m1"/><meta name="csrf_token" content="m2"/></head></html>"#.to_vec(),
            ..Reply::default()
        },
        "/api/sms/set-read" => ok(),
        _ => error(code::NOT_SUPPORTED),
    })
    .await;
    let client = device.client();
    for index in 1..=3 {
        client.set_read(index).await.unwrap();
    }
    assert_eq!(
        device.lines(),
        [
            "GET /",
            "GET /html/home.html",
            "GET /api/user/hilink_login",
            "POST /api/sms/set-read",
            "POST /api/sms/set-read",
            "GET /", // the meta tokens are used up: read the page again
            "GET /html/home.html",
            "POST /api/sms/set-read",
        ]
    );
    let tokens: Vec<_> = device
        .posts()
        .iter()
        .map(|p| p.token().unwrap().to_owned())
        .collect();
    assert_eq!(tokens, ["m1", "m2", "m1"]);
    assert!(
        device.seen()[1..]
            .iter()
            .all(|r| r.cookie() == Some("SessionID=r1"))
    );
}

#[tokio::test]
async fn router_without_hilink_login_logs_in_when_given_credentials() {
    let logged_in = Arc::new(AtomicUsize::new(0));
    let l = logged_in.clone();
    let device = Device::start(move |req| match req.path.as_str() {
        "/api/webserver/SesTokInfo" => {
            xml("<response><SesInfo>SessionID=z</SesInfo><TokInfo>t0</TokInfo></response>")
        }
        "/api/user/state-login" => {
            xml("<response><State>-1</State><password_type>4</password_type></response>")
        }
        "/api/user/login" => {
            l.fetch_add(1, Ordering::SeqCst);
            ok().header("__RequestVerificationToken: t1")
        }
        "/api/sms/sms-count" => xml(SMS_COUNT),
        _ => error(code::NOT_SUPPORTED),
    })
    .await;
    let client = Client::new(device.config().with_credentials("admin", "pw")).unwrap();
    client.sms_count().await.unwrap();
    assert_eq!(logged_in.load(Ordering::SeqCst), 1);
    // Without credentials the same device is used without a login.
    device.client().sms_count().await.unwrap();
    assert_eq!(logged_in.load(Ordering::SeqCst), 1);
}

#[test]
fn debug_output_hides_the_password() {
    let config = Config::new("http://192.168.8.1").with_credentials("admin", "hunter2");
    assert!(!format!("{config:?}").contains("hunter2"));
    let client = Client::new(config).unwrap();
    assert!(!format!("{client:?}").contains("hunter2"));
    assert_eq!(client.base_url().as_str(), "http://192.168.8.1/");
    // The agent runs calls on spawned tasks.
    fn assert_send<T: Send>(_: T) {}
    assert_send(client.send_sms(&["+1"], "x"));
    assert_send(client.sms_list_all(BoxType::LocalInbox));
}

fn page_of(indices: impl Iterator<Item = i64>) -> Reply {
    let messages: String = indices
        .map(|i| format!("<Message><Smstat>0</Smstat><Index>{i}</Index><Phone>+1</Phone><Content>m{i}</Content><Date>2021-04-23 14:17:33</Date><Sca></Sca><SaveType>4</SaveType><Priority>0</Priority><SmsType>1</SmsType></Message>"))
        .collect();
    let count = messages.matches("<Message>").count();
    xml(&format!(
        "<response><Count>{count}</Count><Messages>{messages}</Messages></response>"
    ))
}

#[tokio::test]
async fn sms_list_all_reads_every_page_and_stops() {
    let device = Device::start(|req| match req.path.as_str() {
        "/api/sms/sms-list" if req.body.contains("<PageIndex>1</PageIndex>") => {
            page_of(40000..40050)
        }
        "/api/sms/sms-list" if req.body.contains("<PageIndex>2</PageIndex>") => {
            page_of(40050..40053)
        }
        _ => error(code::NOT_SUPPORTED),
    })
    .await;
    let all = device
        .client()
        .sms_list_all(BoxType::LocalSent)
        .await
        .unwrap();
    assert_eq!(all.len(), 53);
    assert_eq!(all[52].content, "m40052");
    assert!(
        device.posts()[0]
            .body
            .contains("<ReadCount>50</ReadCount><BoxType>2</BoxType>")
    );

    // A device that ignores PageIndex repeats page 1; the client stops instead of looping.
    let device = Device::start(|req| match req.path.as_str() {
        "/api/sms/sms-list" => page_of(40000..40050),
        _ => error(code::NOT_SUPPORTED),
    })
    .await;
    let all = device
        .client()
        .sms_list_all(BoxType::LocalInbox)
        .await
        .unwrap();
    assert_eq!(all.len(), 50);
    assert_eq!(device.posts().len(), 2);
}

#[tokio::test]
async fn ussd_exchange_on_the_wire() {
    // A device without CSRF (like the E303) whose network answers on the third poll and
    // which has no ussd/release: the client asks, sends, polls and tries to release.
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = polls.clone();
    let device = Device::start(move |req| match req.path.as_str() {
        "/" => Reply::default(),
        "/api/ussd/status" => xml("<response><result>0</result></response>"),
        "/api/ussd/send" => ok(),
        "/api/ussd/get" if counter.fetch_add(1, Ordering::SeqCst) < 2 => {
            error(code::USSD_PROCESSING)
        }
        "/api/ussd/get" => {
            xml("<response>\n<content>Balance: 3,50 &#8364;\n</content>\n</response>")
        }
        _ => error(code::NOT_SUPPORTED),
    })
    .await;
    let client = Client::new(Config {
        ussd_poll_interval: Duration::from_millis(10),
        ..device.config()
    })
    .unwrap();
    let answer = client.ussd("*100#", Duration::from_secs(5)).await.unwrap();
    assert_eq!(answer.content, "Balance: 3,50 €");
    let lines = device.lines();
    assert_eq!(
        lines[4..],
        [
            "GET /api/ussd/status",
            "POST /api/ussd/send",
            "GET /api/ussd/get",
            "GET /api/ussd/get",
            "GET /api/ussd/get",
            "GET /api/ussd/release",
        ]
    );
    assert!(device.posts()[0].body.ends_with(
        "<request><content>*100#</content><codeType>CodeType</codeType><timeout></timeout></request>"
    ));
}

#[tokio::test]
async fn ussd_on_firmware_without_it_is_unsupported() {
    let device = Device::start(|req| match req.path.as_str() {
        "/" => Reply::default(),
        _ => error(code::NOT_SUPPORTED),
    })
    .await;
    let err = device
        .client()
        .ussd("*100#", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Ussd(hilink::UssdError::Unsupported { code: 100002 })
        ),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(!device.lines().contains(&"POST /api/ussd/send".to_owned()));
}
