//! The HiLink client: one device, one session, one request at a time.
//!
//! A [`Client`] builds its session lazily on the first call (home page cookie, then
//! `SesTokInfo`, then `webserver/token`, then no token; a login when `user/hilink_login` says
//! so), sends every POST with the next single-use CSRF token, refills tokens from reply headers,
//! and on a session error (125001/125002/125003, 100003) rebuilds the session and retries the
//! call once. A tokio mutex around the session keeps requests to one device strictly serial,
//! because concurrent requests on one session make the device answer 125002.
//!
//! Here: the configuration and the operations, one method per device call. How one call
//! goes is in `call`, how a session is built and logged in is in `establish`, what the
//! client remembers between calls (cookies, tokens) is in `session`, and the USSD exchange
//! (send, poll, release) is in `ussd`.

mod call;
mod establish;
mod session;
mod ussd;

use std::time::Duration;

use reqwest::Url;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
use tokio::sync::Mutex;

use self::session::Session;
use crate::code;
use crate::error::Error;
use crate::model::device::{
    CurrentPlmn, DeviceInformation, MonitoringStatus, Notifications, Signal, TrafficStatistics,
    control, control_body,
};
use crate::model::sms::{
    BoxType, MAX_READ_COUNT, Message, SendStatus, SmsConfig, SmsCount, SmsList, SmsListRequest,
    delete_sms_body, send_sms_body, set_read_body,
};

/// Pages [`Client::sms_list_all`] reads at most (more than LocalMax 500 / 50 per page).
const MAX_PAGES: u32 = 20;

/// How to reach and log in to one device.
#[derive(Clone)]
pub struct Config {
    /// The device's base URL, e.g. `http://192.168.8.1/`.
    pub base_url: String,
    /// User name for devices that require a login; `admin` when only a password is given.
    pub username: Option<String>,
    /// Password for devices that require a login.
    pub password: Option<String>,
    /// Limit for establishing the TCP connection.
    pub connect_timeout: Duration,
    /// Limit for one whole HTTP exchange, body included.
    pub request_timeout: Duration,
    /// Offset of the `Date` written into send-sms. `None` takes the system's local offset
    /// when it can be determined safely at construction, else UTC (which devices accept).
    pub utc_offset: Option<UtcOffset>,
    /// Largest reply body accepted.
    pub max_body_bytes: usize,
    /// How often [`Client::ussd`] asks whether the network has answered (the WebUI asks
    /// every 3 s, other clients every second).
    pub ussd_poll_interval: Duration,
}

impl Config {
    /// Defaults for a device at `base_url`: no login, 5 s to connect, 30 s per request.
    pub fn new(base_url: impl Into<String>) -> Self {
        Config {
            base_url: base_url.into(),
            username: None,
            password: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            utc_offset: None,
            max_body_bytes: 1 << 20,
            ussd_poll_interval: Duration::from_secs(1),
        }
    }

    /// The same, with login credentials.
    pub fn with_credentials(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }
}

/// A client for one HiLink device.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    credentials: Option<(String, String)>,
    utc_offset: UtcOffset,
    max_body_bytes: usize,
    ussd_poll_interval: Duration,
    session: Mutex<Session>,
    /// Held through a whole USSD exchange: the device has one dialog.
    ussd_lock: Mutex<()>,
}

impl Client {
    /// Creates a client; no request is made until the first call.
    pub fn new(config: Config) -> Result<Self, Error> {
        let mut base = Url::parse(&config.base_url)
            .map_err(|e| Error::InvalidRequest(format!("base URL {:?}: {e}", config.base_url)))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // The modem is on a local link; a proxy from the environment would only get in the way.
            .no_proxy()
            // A redirect from an API path means "not supported" (it leads to the home page);
            // the home page's own redirects are followed by hand to keep their cookies.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::Transport)?;
        let credentials = match (config.username, config.password) {
            (Some(user), Some(password)) => Some((user, password)),
            (None, Some(password)) => Some(("admin".to_owned(), password)),
            _ => None,
        };
        let utc_offset = config
            .utc_offset
            .or_else(|| UtcOffset::current_local_offset().ok())
            .unwrap_or(UtcOffset::UTC);
        Ok(Client {
            http,
            base,
            credentials,
            utc_offset,
            max_body_bytes: config.max_body_bytes,
            ussd_poll_interval: config.ussd_poll_interval,
            session: Mutex::new(Session::default()),
            ussd_lock: Mutex::new(()),
        })
    }

    /// The device's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Forgets the session; the next call builds a new one (and logs in again if needed).
    pub async fn reset_session(&self) {
        self.session.lock().await.reset();
    }

    /// Sends one SMS to one or more numbers. `Ok` means the device accepted the job; the
    /// outcome comes from [`Client::send_status`].
    pub async fn send_sms<P: AsRef<str>>(&self, phones: &[P], text: &str) -> Result<(), Error> {
        let now = OffsetDateTime::now_utc().to_offset(self.utc_offset);
        let body = send_sms_body(phones, text, PrimitiveDateTime::new(now.date(), now.time()))?;
        self.post("api/sms/send-sms", &body).await
    }

    /// Progress of the last send.
    pub async fn send_status(&self) -> Result<SendStatus, Error> {
        self.get("api/sms/send-status").await
    }

    /// One page of a message box.
    pub async fn sms_list(&self, request: &SmsListRequest) -> Result<SmsList, Error> {
        self.post("api/sms/sms-list", &request.to_xml()).await
    }

    /// Every message of a box, newest first, reading page after page.
    pub async fn sms_list_all(&self, box_type: BoxType) -> Result<Vec<Message>, Error> {
        let mut all: Vec<Message> = Vec::new();
        for page in 1..=MAX_PAGES {
            let request = SmsListRequest {
                page,
                ..SmsListRequest::new(box_type, MAX_READ_COUNT)
            };
            let list = self.sms_list(&request).await?;
            let before = all.len();
            for message in list.messages.iter() {
                // A device that ignores PageIndex would repeat a page forever.
                if !all.iter().any(|m| m.index == message.index) {
                    all.push(message.clone());
                }
            }
            let page_len = u32::try_from(list.messages.len()).unwrap_or(u32::MAX);
            if page_len < MAX_READ_COUNT || all.len() == before {
                break;
            }
        }
        Ok(all)
    }

    /// Message counts per box.
    pub async fn sms_count(&self) -> Result<SmsCount, Error> {
        self.get("api/sms/sms-count").await
    }

    /// Deletes messages by index. An index the device no longer has (113114) counts as deleted.
    pub async fn delete_sms(&self, indices: &[i64]) -> Result<(), Error> {
        let body = delete_sms_body(indices)?;
        match self.post("api/sms/delete-sms", &body).await {
            Err(Error::Device {
                code: code::SMS_NOT_FOUND,
                ..
            }) => Ok(()),
            other => other,
        }
    }

    /// Marks a received message as read.
    pub async fn set_read(&self, index: i64) -> Result<(), Error> {
        self.post("api/sms/set-read", &set_read_body(index)).await
    }

    /// Reads the SMS settings.
    pub async fn sms_config(&self) -> Result<SmsConfig, Error> {
        self.get("api/sms/config").await
    }

    /// Writes the SMS settings.
    pub async fn set_sms_config(&self, config: &SmsConfig) -> Result<(), Error> {
        self.post("api/sms/config", &config.to_xml()).await
    }

    /// Turns delivery reports on; returns whether the setting had to be changed.
    pub async fn enable_delivery_reports(&self) -> Result<bool, Error> {
        let config = self.sms_config().await?;
        if config.use_s_report {
            return Ok(false);
        }
        self.set_sms_config(&SmsConfig {
            use_s_report: true,
            ..config
        })
        .await?;
        Ok(true)
    }

    /// Connection, SIM and service state.
    pub async fn monitoring_status(&self) -> Result<MonitoringStatus, Error> {
        self.get("api/monitoring/status").await
    }

    /// Unread messages and the storage-full flag.
    pub async fn check_notifications(&self) -> Result<Notifications, Error> {
        self.get("api/monitoring/check-notifications").await
    }

    /// The network operator.
    pub async fn current_plmn(&self) -> Result<CurrentPlmn, Error> {
        self.get("api/net/current-plmn").await
    }

    /// Radio measurements.
    pub async fn signal(&self) -> Result<Signal, Error> {
        self.get("api/device/signal").await
    }

    /// Identity and firmware versions.
    pub async fn device_information(&self) -> Result<DeviceInformation, Error> {
        self.get("api/device/information").await
    }

    /// Data counters.
    pub async fn traffic_statistics(&self) -> Result<TrafficStatistics, Error> {
        self.get("api/monitoring/traffic-statistics").await
    }

    /// Reboots the device. The session is forgotten afterwards.
    pub async fn reboot(&self) -> Result<(), Error> {
        let result = self
            .post("api/device/control", &control_body(control::REBOOT))
            .await;
        self.reset_session().await;
        result
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("utc_offset", &self.utc_offset)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("ussd_poll_interval", &self.ussd_poll_interval)
            .finish()
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("username", &self.credentials.as_ref().map(|(user, _)| user))
            .finish_non_exhaustive()
    }
}
