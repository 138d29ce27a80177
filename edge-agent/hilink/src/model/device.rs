//! Health and identity replies: monitoring status, notifications, operator, signal, device
//! information, traffic counters, and the reboot request.
//!
//! The agent publishes these as modem health, so every field is optional where devices leave
//! it empty, and values with units (`-89dBm`, `>=-51dBm`) become plain numbers.

use crate::error::Error;
use crate::xml::{Element, FromResponse, RequestXml};

/// Values of `device/control`'s `Control`.
pub mod control {
    /// Reboot the device.
    pub const REBOOT: u8 = 1;
    /// Factory reset.
    pub const FACTORY_RESET: u8 = 2;
    /// Back up the configuration.
    pub const BACKUP: u8 = 3;
    /// Power off.
    pub const POWER_OFF: u8 = 4;
}

/// The body of `device/control`.
pub fn control_body(value: u8) -> String {
    RequestXml::new().field("Control", value).finish()
}

/// Connection and SIM state (`GET monitoring/status`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitoringStatus {
    /// 900 connecting, 901 connected, 902 disconnected, 903 disconnecting.
    pub connection_status: Option<i32>,
    /// Signal bars, 0..=`max_signal`.
    pub signal_icon: Option<i32>,
    /// Bars at full signal (5).
    pub max_signal: Option<i32>,
    /// Filled in on E303; empty on E3372.
    pub signal_strength: Option<i32>,
    /// Radio technology (19 = LTE).
    pub current_network_type: Option<i32>,
    /// Extended radio technology (101 = LTE).
    pub current_network_type_ex: Option<i32>,
    /// Circuit/packet service domain.
    pub current_service_domain: Option<i32>,
    /// 2 = service available.
    pub service_status: Option<i32>,
    /// 1 = valid SIM, 255 = no SIM.
    pub sim_status: Option<i32>,
    /// Non-zero when roaming.
    pub roaming_status: Option<i32>,
    /// Non-zero in flight mode.
    pub flymode: Option<i32>,
}

impl MonitoringStatus {
    /// True when the SIM is present and valid.
    pub fn sim_ok(&self) -> bool {
        self.sim_status == Some(1)
    }

    /// True when the network offers service.
    pub fn has_service(&self) -> bool {
        self.service_status == Some(2)
    }
}

impl FromResponse for MonitoringStatus {
    fn from_response(root: &Element) -> Result<Self, Error> {
        Ok(MonitoringStatus {
            connection_status: root.num("ConnectionStatus"),
            signal_icon: root.num("SignalIcon"),
            max_signal: root.num("maxsignal"),
            signal_strength: root.num("SignalStrength"),
            current_network_type: root.num("CurrentNetworkType"),
            current_network_type_ex: root.num("CurrentNetworkTypeEx"),
            current_service_domain: root.num("CurrentServiceDomain"),
            service_status: root.num("ServiceStatus"),
            sim_status: root.num("SimStatus"),
            roaming_status: root.num("RoamingStatus"),
            flymode: root.num("flymode"),
        })
    }
}

/// Pending events (`GET monitoring/check-notifications`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notifications {
    /// Unread messages.
    pub unread_message: u32,
    /// The SMS storage is full.
    pub sms_storage_full: bool,
    /// Firmware update state.
    pub online_update_status: Option<i32>,
    /// SIM operator event (10.x).
    pub sim_oper_event: Option<i32>,
}

impl FromResponse for Notifications {
    fn from_response(root: &Element) -> Result<Self, Error> {
        Ok(Notifications {
            unread_message: root.num("UnreadMessage").unwrap_or_default(),
            sms_storage_full: root.flag("SmsStorageFull").unwrap_or(false),
            online_update_status: root.num("OnlineUpdateStatus"),
            sim_oper_event: root.num("SimOperEvent"),
        })
    }
}

/// The network operator (`GET net/current-plmn`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentPlmn {
    /// Registration state.
    pub state: Option<i32>,
    /// Operator long name.
    pub full_name: String,
    /// Operator short name.
    pub short_name: String,
    /// MCC+MNC, e.g. `23806`.
    pub numeric: String,
    /// Radio technology: 0 2G, 2 3G, 5 "H", 7 4G.
    pub rat: Option<i32>,
    /// Service provider name (newer firmware).
    pub spn: Option<String>,
}

impl FromResponse for CurrentPlmn {
    fn from_response(root: &Element) -> Result<Self, Error> {
        Ok(CurrentPlmn {
            state: root.num("State"),
            full_name: root.string("FullName"),
            short_name: root.string("ShortName"),
            numeric: root.string("Numeric"),
            rat: root.num("Rat"),
            spn: root.opt_string("Spn"),
        })
    }
}

/// Reads a measurement such as `-89dBm`, `>=-51dBm`, `-7.0dB` or `10MHz` as a number: a
/// leading comparison is dropped (the bound is the value), the unit after the number ignored.
pub fn parse_measure(raw: &str) -> Option<f64> {
    let s = raw.trim();
    let s = s.trim_start_matches(['>', '<', '=']).trim_start();
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+'))))
        .map_or(s.len(), |(i, _)| i);
    s[..end].parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Radio measurements (`GET device/signal`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signal {
    /// Physical cell id.
    pub pci: Option<u32>,
    /// Cell id.
    pub cell_id: Option<String>,
    /// LTE reference signal received quality, dB.
    pub rsrq: Option<f64>,
    /// LTE reference signal received power, dBm.
    pub rsrp: Option<f64>,
    /// Received signal strength, dBm.
    pub rssi: Option<f64>,
    /// Signal to interference plus noise, dB.
    pub sinr: Option<f64>,
    /// 3G received code power, dBm.
    pub rscp: Option<f64>,
    /// 3G Ec/Io, dB.
    pub ecio: Option<f64>,
    /// Radio mode, presumably 0 2G / 2 3G / 7 4G.
    pub mode: Option<i32>,
    /// LTE band.
    pub band: Option<String>,
    /// MCC+MNC of the serving cell.
    pub plmn: Option<String>,
}

impl FromResponse for Signal {
    fn from_response(root: &Element) -> Result<Self, Error> {
        let measure = |name: &str| root.raw(name).and_then(parse_measure);
        Ok(Signal {
            pci: root.num("pci"),
            cell_id: root.opt_string("cell_id"),
            rsrq: measure("rsrq"),
            rsrp: measure("rsrp"),
            rssi: measure("rssi"),
            sinr: measure("sinr"),
            rscp: measure("rscp"),
            ecio: measure("ecio"),
            mode: root.num("mode"),
            band: root.opt_string("band"),
            plmn: root.opt_string("plmn"),
        })
    }
}

/// Identity and versions (`GET device/information`); entities are already resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceInformation {
    /// Model, e.g. `E3372`.
    pub device_name: String,
    /// Serial number.
    pub serial_number: String,
    /// IMEI.
    pub imei: String,
    /// IMSI of the SIM.
    pub imsi: String,
    /// ICCID of the SIM.
    pub iccid: String,
    /// Own number, often empty.
    pub msisdn: String,
    /// Hardware version, e.g. `CL1E3372SM`.
    pub hardware_version: String,
    /// Firmware version, e.g. `22.300.09.00.00` or `10.0.2.2(H190SP1C983)`.
    pub software_version: String,
    /// Web UI version.
    pub webui_version: String,
    /// First MAC address.
    pub mac_address1: String,
    /// Product family, e.g. `LTE`.
    pub product_family: String,
    /// `hilink` on sticks.
    pub classify: String,
    /// Current work mode, e.g. `LTE`.
    pub workmode: String,
    /// Seconds since boot (10.x).
    pub uptime: Option<u64>,
}

impl FromResponse for DeviceInformation {
    fn from_response(root: &Element) -> Result<Self, Error> {
        Ok(DeviceInformation {
            device_name: root.string("DeviceName"),
            serial_number: root.string("SerialNumber"),
            imei: root.string("Imei"),
            imsi: root.string("Imsi"),
            iccid: root.string("Iccid"),
            msisdn: root.string("Msisdn"),
            hardware_version: root.string("HardwareVersion"),
            software_version: root.string("SoftwareVersion"),
            webui_version: root.string("WebUIVersion"),
            mac_address1: root.string("MacAddress1"),
            product_family: root.string("ProductFamily"),
            classify: root.string("Classify"),
            workmode: root.string("workmode"),
            uptime: root.num("uptime"),
        })
    }
}

/// Data counters (`GET monitoring/traffic-statistics`); bytes and seconds, 64-bit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficStatistics {
    /// Seconds of the current connection.
    pub current_connect_time: Option<u64>,
    /// Bytes sent on the current connection.
    pub current_upload: Option<u64>,
    /// Bytes received on the current connection.
    pub current_download: Option<u64>,
    /// Bytes sent in total.
    pub total_upload: Option<u64>,
    /// Bytes received in total.
    pub total_download: Option<u64>,
    /// Seconds connected in total.
    pub total_connect_time: Option<u64>,
}

impl FromResponse for TrafficStatistics {
    fn from_response(root: &Element) -> Result<Self, Error> {
        Ok(TrafficStatistics {
            current_connect_time: root.num("CurrentConnectTime"),
            current_upload: root.num("CurrentUpload"),
            current_download: root.num("CurrentDownload"),
            total_upload: root.num("TotalUpload"),
            total_download: root.num("TotalDownload"),
            total_connect_time: root.num("TotalConnectTime"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures() {
        assert_eq!(parse_measure("-89dBm"), Some(-89.0));
        assert_eq!(parse_measure(">=-51dBm"), Some(-51.0));
        assert_eq!(parse_measure("<=-113dBm"), Some(-113.0));
        assert_eq!(parse_measure("-7.0dB"), Some(-7.0));
        assert_eq!(parse_measure("6dB"), Some(6.0));
        assert_eq!(parse_measure(" 10MHz "), Some(10.0));
        assert_eq!(parse_measure(""), None);
        assert_eq!(parse_measure("dBm"), None);
        assert_eq!(parse_measure("-"), None);
        assert_eq!(parse_measure("--5"), None);
    }

    #[test]
    fn control_reboot_body() {
        assert!(control_body(control::REBOOT).ends_with("<request><Control>1</Control></request>"));
    }
}
