//! One modem as the agent sees it: its HiLink client, send budget, circuit breaker and the
//! last health it reported.
//!
//! The sender and the poller of a modem share this; the client itself makes requests to
//! the device strictly one at a time, so the two never talk over each other.

use std::sync::Arc;

use hilink::ErrorClass;
use smsgw_shared::{
    ModemId,
    wire::{Circuit, FailureCode, ModemHealth, Rat, Signal, SimState, Storage},
};
use tokio::{
    sync::{Mutex, Notify},
    time::Instant,
};

use crate::{
    breaker::Breaker,
    budget::Budget,
    config::{ModemConfig, Timing, millis},
};

/// Mutable state of a modem, behind one lock.
#[derive(Debug)]
pub struct ModemState {
    /// When the next send may start.
    pub budget: Budget,
    /// Whether the modem may be used.
    pub breaker: Breaker,
    /// The last health read from the device (circuit and queue are filled in when
    /// published).
    pub health: ModemHealth,
    /// The device reported its SMS storage full.
    pub storage_full: bool,
    /// Delivery reports are turned on in the device (`sms/config` UseSReport).
    pub reports_enabled: bool,
}

/// A modem of this site.
#[derive(Debug)]
pub struct Modem {
    /// Its id.
    pub id: ModemId,
    /// The device.
    pub client: hilink::Client,
    /// Its configuration.
    pub config: ModemConfig,
    /// Budget, breaker and health.
    pub state: Mutex<ModemState>,
    /// Wakes the sender (new work, breaker change, shutdown).
    pub wake: Notify,
}

impl Modem {
    /// Builds the modem's client from its configuration.
    pub fn new(config: &ModemConfig, timing: &Timing) -> Result<Arc<Self>, hilink::Error> {
        let mut client_config = hilink::Config::new(config.url.clone());
        client_config.connect_timeout = millis(timing.modem_connect_timeout_ms);
        client_config.request_timeout = millis(timing.modem_request_timeout_ms);
        client_config.utc_offset = Some(crate::clock::local_offset());
        if let Some(password) = &config.password {
            let user = config
                .username
                .clone()
                .unwrap_or_else(|| "admin".to_owned());
            client_config = client_config.with_credentials(user, password.clone());
        }
        let client = hilink::Client::new(client_config)?;
        Ok(Arc::new(Self {
            id: config.id.clone(),
            client,
            config: config.clone(),
            state: Mutex::new(ModemState {
                budget: Budget::new(config.max_per_minute, millis(config.min_gap_ms)),
                breaker: Breaker::new(timing.breaker_failures, millis(timing.breaker_open_ms)),
                health: unknown_health(&config.id),
                storage_full: false,
                reports_enabled: false,
            }),
            wake: Notify::new(),
        }))
    }

    /// Whether the breaker lets requests through now (without taking the probe slot).
    pub async fn circuit(&self) -> Circuit {
        self.state.lock().await.breaker.state(Instant::now())
    }

    /// Turns on delivery reports in the device once (the device decides at send time
    /// whether to ask the network for a report). Returns whether the setting changed.
    pub async fn ensure_reports(&self) -> Result<bool, hilink::Error> {
        if self.state.lock().await.reports_enabled {
            return Ok(false);
        }
        let changed = self.client.enable_delivery_reports().await?;
        self.state.lock().await.reports_enabled = true;
        Ok(changed)
    }

    /// Records the outcome of a request for the breaker: transport failures and busy
    /// answers count against the modem, anything the device answered properly for it.
    pub async fn record(&self, outcome: Result<(), &hilink::Error>) {
        let mut state = self.state.lock().await;
        match outcome {
            Ok(()) => state.breaker.success(),
            Err(e) if matches!(e.class(), ErrorClass::Transport | ErrorClass::Retryable) => {
                state.breaker.failure(Instant::now());
            }
            Err(_) => state.breaker.success(),
        }
    }
}

/// The health of a modem not read yet.
pub fn unknown_health(id: &ModemId) -> ModemHealth {
    ModemHealth {
        id: id.clone(),
        model: None,
        firmware: None,
        imei: None,
        operator: None,
        rat: None,
        signal: Signal::default(),
        sim: SimState::Unknown,
        registered: false,
        circuit: Circuit::Closed,
        queue: 0,
        storage: Storage::default(),
    }
}

/// The contract's failure code for a modem error.
pub fn failure_code(error: &hilink::Error) -> FailureCode {
    match (error.class(), error.code()) {
        (_, Some(hilink::code::SMS_STORAGE_FULL)) => FailureCode::StorageFull,
        (ErrorClass::Transport, _) => FailureCode::ModemUnreachable,
        (ErrorClass::Retryable, _) => FailureCode::ModemBusy,
        (ErrorClass::RefreshSession, _) => FailureCode::Session,
        (ErrorClass::Permanent, _) => FailureCode::ModemRejected,
    }
}

/// Radio technology from `CurrentNetworkType` of `monitoring/status` (reference §4).
pub fn rat_of(network_type: Option<i32>) -> Option<Rat> {
    match network_type? {
        1..=3 => Some(Rat::Gsm),
        4..=9 | 17 | 18 | 41..=46 | 61..=65 => Some(Rat::Umts),
        19 | 101 | 1011 => Some(Rat::Lte),
        111 => Some(Rat::Nr),
        _ => None,
    }
}

/// SIM state from `SimStatus` of `monitoring/status` (reference §4).
pub fn sim_of(sim_status: Option<i32>) -> SimState {
    match sim_status {
        Some(1) => SimState::Ready,
        Some(255) => SimState::Absent,
        Some(0 | 2 | 3 | 4 | 240) => SimState::Invalid,
        _ => SimState::Unknown,
    }
}

/// Reads the device's health. Static facts (model, firmware, IMEI) are read only while
/// unknown; a failed read keeps what was known before.
pub async fn read_health(
    modem: &Modem,
    previous: &ModemHealth,
) -> Result<ModemHealth, hilink::Error> {
    let mut health = previous.clone();
    if health.model.is_none() {
        let info = modem.client.device_information().await?;
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        health.model = non_empty(&info.device_name);
        health.firmware = non_empty(&info.software_version);
        health.imei = non_empty(&info.imei);
    }
    let status = modem.client.monitoring_status().await?;
    health.rat = rat_of(
        status
            .current_network_type_ex
            .or(status.current_network_type),
    )
    .or_else(|| rat_of(status.current_network_type));
    health.sim = sim_of(status.sim_status);
    health.registered = status.service_status == Some(2);
    let bars = status.signal_icon.and_then(|b| u8::try_from(b).ok());
    let signal = modem.client.signal().await.ok();
    let dbm = |v: Option<f64>| v.map(|x| x.round() as i32);
    health.signal = Signal {
        bars,
        rssi: signal.as_ref().and_then(|s| dbm(s.rssi)),
        rsrp: signal.as_ref().and_then(|s| dbm(s.rsrp)),
        sinr: signal.as_ref().and_then(|s| dbm(s.sinr)),
    };
    if let Ok(plmn) = modem.client.current_plmn().await {
        let name = if plmn.short_name.is_empty() {
            plmn.full_name
        } else {
            plmn.short_name
        };
        health.operator = (!name.is_empty()).then_some(name);
    }
    let count = modem.client.sms_count().await?;
    health.storage = Storage {
        used: count.local_used(),
        max: count.local_max,
    };
    Ok(health)
}
