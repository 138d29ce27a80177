//! What kind of device to simulate and how fast its network is.
//!
//! The three profiles are the firmware families the agent has to handle (protocol notes §6);
//! the timings are configurable so that agent tests can run through a send, its status and
//! its delivery report in well under a second.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use super::operator::UssdService;

/// The firmware family the simulator behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Profile {
    /// E303, old 3G stick: no session cookie, no CSRF token, no login.
    #[serde(rename = "e303")]
    E303,
    /// E3372h with 22.x firmware and WebUI 17: a session cookie on every request and a
    /// rotating CSRF token on every POST.
    #[serde(rename = "e3372h")]
    E3372h,
    /// E3372h-320 with 10.x firmware: like `E3372h`, plus a required login (password_type 4
    /// or SCRAM) and a parser that refuses pretty-printed XML.
    #[serde(rename = "e3372h-320")]
    E3372h320,
}

impl Profile {
    /// The name used on the command line and in the control API.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::E303 => "e303",
            Profile::E3372h => "e3372h",
            Profile::E3372h320 => "e3372h-320",
        }
    }

    /// Whether requests need a `SessionID` cookie (and POSTs a CSRF token).
    pub fn uses_session(self) -> bool {
        !matches!(self, Profile::E303)
    }

    /// Whether API calls other than the login ones need a logged-in session.
    pub fn login_required(self) -> bool {
        matches!(self, Profile::E3372h320)
    }

    /// Whether whitespace between request tags is answered with 100005.
    pub fn rejects_pretty_xml(self) -> bool {
        matches!(self, Profile::E3372h320)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "e303" => Ok(Profile::E303),
            "e3372h" => Ok(Profile::E3372h),
            "e3372h-320" => Ok(Profile::E3372h320),
            other => Err(format!(
                "unknown profile `{other}` (expected e303, e3372h or e3372h-320)"
            )),
        }
    }
}

/// How long the simulated network takes; all durations may be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Timings {
    /// How long one recipient of a send stays in `send-status` `Phone` before it moves to
    /// `SucPhone` or `FailPhone`.
    #[serde(rename = "send_duration_ms", with = "millis")]
    pub send_duration: Duration,
    /// How long after a successful send its delivery report arrives (when `UseSReport` is on).
    #[serde(rename = "report_delay_ms", with = "millis")]
    pub report_delay: Duration,
    /// Sends closer together than this get 113004; zero turns the check off.
    #[serde(rename = "min_send_gap_ms", with = "millis")]
    pub min_send_gap: Duration,
    /// How long the device takes to answer an API call. While a call is being answered,
    /// another one on the same session gets 125002, as on real sticks; zero (the default)
    /// answers at once and turns that check off.
    #[serde(rename = "request_latency_ms", with = "millis")]
    pub request_latency: Duration,
    /// How long the network takes to answer a USSD code.
    #[serde(rename = "ussd_delay_ms", with = "millis")]
    pub ussd_delay: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            send_duration: Duration::from_millis(1500),
            report_delay: Duration::from_millis(3000),
            min_send_gap: Duration::ZERO,
            request_latency: Duration::ZERO,
            ussd_delay: Duration::from_millis(2000),
        }
    }
}

impl Timings {
    /// Timings for tests: sends finish after 50 ms, reports follow 100 ms later, USSD
    /// answers come after 50 ms.
    pub fn fast() -> Self {
        Timings {
            send_duration: Duration::from_millis(50),
            report_delay: Duration::from_millis(100),
            min_send_gap: Duration::ZERO,
            request_latency: Duration::ZERO,
            ussd_delay: Duration::from_millis(50),
        }
    }
}

/// Everything [`crate::sim::Simulator::start`] needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The firmware family to behave like.
    pub profile: Profile,
    /// Where the device API listens; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Optionally a second listener that serves only the `/sim/` control API, so that it
    /// stays reachable while the device refuses connections.
    pub control_addr: Option<SocketAddr>,
    /// The login user (profile `e3372h-320`, and `user/login` on `e3372h`).
    pub username: String,
    /// The login password.
    pub password: String,
    /// Network timings.
    pub timings: Timings,
    /// How many messages local storage holds (`LocalMax`).
    pub local_max: usize,
    /// How the operator answers USSD codes.
    pub ussd: UssdService,
}

impl SimConfig {
    /// A configuration for `profile` on a free loopback port with default timings.
    pub fn new(profile: Profile) -> Self {
        SimConfig {
            profile,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            control_addr: None,
            username: "admin".to_owned(),
            password: "admin".to_owned(),
            timings: Timings::default(),
            local_max: 500,
            ussd: UssdService::operator(),
        }
    }

    /// The same configuration with other timings.
    pub fn with_timings(mut self, timings: Timings) -> Self {
        self.timings = timings;
        self
    }

    /// The same configuration with another USSD table.
    pub fn with_ussd(mut self, ussd: UssdService) -> Self {
        self.ussd = ussd;
        self
    }

    /// The same configuration with other credentials.
    pub fn with_credentials(mut self, username: &str, password: &str) -> Self {
        self.username = username.to_owned();
        self.password = password.to_owned();
        self
    }
}

/// Durations as whole milliseconds in JSON.
mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms: u64 = serde::Deserialize::deserialize(d)?;
        Ok(Duration::from_millis(ms))
    }
}
