//! `api/monitoring/*`, `api/net/*`, `api/device/*`: the health figures an agent reports,
//! with values taken from the recorded E3372 replies, and `device/control`.

use super::reply::{Ctx, Reply, number};
use crate::code as codes;
use crate::sim::config::Profile;
use crate::sim::state::State;
use crate::sim::xml::{Element, XmlOut};

/// GET handlers; `None` for an unknown name.
pub(super) fn get(state: &mut State, ctx: &Ctx<'_>, module: &str, name: &str) -> Option<Reply> {
    let body = match (module, name) {
        ("monitoring", "status") => monitoring_status(ctx.profile),
        ("monitoring", "check-notifications") => {
            let counts = state.counts(ctx.now);
            let mut out = XmlOut::response();
            out.leaf("UnreadMessage", counts.local_unread)
                .leaf("SmsStorageFull", u8::from(counts.full()))
                .leaf("OnlineUpdateStatus", 10);
            if ctx.profile == Profile::E3372h320 {
                out.leaf("SimOperEvent", 0);
            }
            out.finish()
        }
        ("monitoring", "traffic-statistics") => {
            let mut out = XmlOut::response();
            for (name, value) in [
                ("CurrentConnectTime", "35856"),
                ("CurrentUpload", "679323450"),
                ("CurrentDownload", "1689913245"),
                ("CurrentDownloadRate", "0"),
                ("CurrentUploadRate", "0"),
                ("TotalUpload", "6352863475"),
                ("TotalDownload", "52302611857"),
                ("TotalConnectTime", "912333"),
                ("showtraffic", "1"),
                ("MaxUploadRate", "1086461"),
                ("MaxDownloadRate", "1917665"),
            ] {
                out.leaf(name, value);
            }
            out.finish()
        }
        ("net", "current-plmn") => {
            let (rat, name) = if ctx.profile == Profile::E303 {
                (2, "Telekom.de")
            } else {
                (7, "Telekom.de")
            };
            let mut out = XmlOut::response();
            out.leaf("State", 0)
                .leaf("FullName", name)
                .leaf("ShortName", "TDG")
                .leaf("Numeric", "26201")
                .leaf("Rat", rat);
            if ctx.profile == Profile::E3372h320 {
                out.leaf("Spn", "");
            }
            out.finish()
        }
        ("device", "signal") => device_signal(ctx.profile),
        ("device", "information") => device_information(ctx.profile),
        ("device", "basic_information") => {
            let mut out = XmlOut::response();
            out.leaf(
                "productfamily",
                if ctx.profile == Profile::E303 {
                    "UMTS"
                } else {
                    "LTE"
                },
            )
            .leaf("classify", "hilink")
            .leaf("multimode", 0)
            .leaf("restore_default_status", 0)
            .leaf("autoupdate_guide_status", 0)
            .leaf("devicename", device_name(ctx.profile))
            .leaf("SoftwareVersion", software_version(ctx.profile))
            .leaf("WebUIVersion", webui_version(ctx.profile));
            out.finish()
        }
        _ => return None,
    };
    Some(Reply::xml(body))
}

/// POST handlers of `device/*`; `None` for an unknown name.
pub(super) fn post(
    state: &mut State,
    _ctx: &Ctx<'_>,
    name: &str,
    request: &Element,
) -> Option<Reply> {
    if name != "control" {
        return None;
    }
    let reply = match number::<u32>(request, "Control", 0) {
        Ok(1) => {
            // A reboot ends every session; the agent has to start over.
            tracing::info!("simulated reboot: sessions dropped");
            state.sessions.clear();
            Reply::ok()
        }
        Ok(2) => {
            tracing::info!("simulated factory reset");
            state.factory_reset();
            Reply::ok()
        }
        Ok(3 | 4) => Reply::ok(),
        Ok(_) | Err(_) => Reply::error(codes::PARAMETER_ERROR),
    };
    Some(reply)
}

fn device_name(profile: Profile) -> &'static str {
    match profile {
        Profile::E303 => "E303",
        Profile::E3372h | Profile::E3372h320 => "E3372",
    }
}

/// The software version as XML text: 10.x firmware sends the brackets as entities.
fn software_version(profile: Profile) -> &'static str {
    match profile {
        Profile::E303 => "21.157.01.00.00",
        Profile::E3372h => "22.315.01.00.74",
        Profile::E3372h320 => "10.0.3.1(H192SP1C983)",
    }
}

fn webui_version(profile: Profile) -> &'static str {
    match profile {
        Profile::E303 => "11.010.01.00.00",
        Profile::E3372h => "17.100.14.00.74",
        Profile::E3372h320 => "WEBUI 10.0.3.1(W13SP2C7110)",
    }
}

fn monitoring_status(profile: Profile) -> String {
    let (signal, network, network_ex) = match profile {
        Profile::E303 => ("80", "4", "41"),
        _ => ("", "19", "101"),
    };
    let mut out = XmlOut::response();
    for (name, value) in [
        ("ConnectionStatus", "901"),
        ("WifiConnectionStatus", ""),
        ("SignalStrength", signal),
        ("SignalIcon", "4"),
        ("CurrentNetworkType", network),
        ("CurrentServiceDomain", "3"),
        ("RoamingStatus", "0"),
        ("BatteryStatus", ""),
        ("BatteryLevel", ""),
        ("BatteryPercent", ""),
        ("simlockStatus", "0"),
        ("PrimaryDns", "139.7.30.125"),
        ("SecondaryDns", "139.7.30.126"),
        ("wififrequence", "0"),
        ("flymode", "0"),
        ("PrimaryIPv6Dns", ""),
        ("SecondaryIPv6Dns", ""),
        ("CurrentWifiUser", ""),
        ("TotalWifiUser", ""),
        ("currenttotalwifiuser", "0"),
        ("ServiceStatus", "2"),
        ("SimStatus", "1"),
        ("WifiStatus", ""),
        ("CurrentNetworkTypeEx", network_ex),
        ("maxsignal", "5"),
        ("wifiindooronly", "0"),
        ("classify", "hilink"),
        ("usbup", "0"),
    ] {
        out.leaf(name, value);
    }
    out.finish()
}

fn device_signal(profile: Profile) -> String {
    let mut out = XmlOut::response();
    let rows: &[(&str, &str)] = if profile == Profile::E303 {
        &[
            ("pci", ""),
            ("sc", "265"),
            ("cell_id", "20817923"),
            ("rsrq", ""),
            ("rsrp", ""),
            ("rssi", "&gt;=-51dBm"),
            ("sinr", ""),
            ("rscp", "-71dBm"),
            ("ecio", "-5dB"),
            ("mode", "2"),
        ]
    } else {
        &[
            ("pci", "356"),
            ("sc", ""),
            ("cell_id", "2576387"),
            ("rsrq", "-7.0dB"),
            ("rsrp", "-89dBm"),
            ("rssi", "-69dBm"),
            ("sinr", "6dB"),
            ("rscp", ""),
            ("ecio", ""),
            ("mode", "7"),
            ("ulbandwidth", "10MHz"),
            ("dlbandwidth", "10MHz"),
            ("txpower", "PPusch:6dBm PPucch:-5dBm PSrs:23dBm PPrach:7dBm"),
            ("tdd", ""),
            ("ul_mcs", "mcsUpCarrier1:29"),
            ("dl_mcs", "mcsDownCarrier1Code0:0 mcsDownCarrier1Code1:0"),
            ("earfcn", "DL:6300 UL:24300"),
            ("rrc_status", ""),
            ("rac", ""),
            ("lac", ""),
            ("tac", "49106"),
            ("band", "20"),
            ("nei_cellid", ""),
            ("plmn", "26201"),
            ("ims", "0"),
            ("wdlfreq", ""),
            ("lteulfreq", "8470"),
            ("ltedlfreq", "8060"),
            ("transmode", "TM[3]"),
            ("enodeb_id", "0010064"),
            ("cqi0", "9"),
            ("cqi1", "9"),
            ("ulfrequency", "847000kHz"),
            ("dlfrequency", "806000kHz"),
        ]
    };
    for (name, raw) in rows {
        out.raw_leaf(name, raw);
    }
    out.finish()
}

fn device_information(profile: Profile) -> String {
    let mut out = XmlOut::response();
    let (hardware, mac) = match profile {
        Profile::E303 => ("CH1E303SM", "00:1E:10:1F:00:00"),
        _ => ("CL1E3372SM", "00:1E:10:1F:00:01"),
    };
    out.leaf("DeviceName", device_name(profile))
        .leaf("SerialNumber", "G4P7S15A12345678")
        .leaf("Imei", "866123045678901")
        .leaf("Imsi", "262011234567890")
        .leaf("Iccid", "89490200001234567890")
        .leaf("Msisdn", "")
        .leaf("HardwareVersion", hardware);
    if profile == Profile::E3372h320 {
        // 10.x firmware escapes the brackets of its version strings as entities.
        out.raw_leaf("SoftwareVersion", "10.0.3.1&#40;H192SP1C983&#41;")
            .raw_leaf("WebUIVersion", "WEBUI 10.0.3.1&#40;W13SP2C7110&#41;");
    } else {
        out.leaf("SoftwareVersion", software_version(profile))
            .leaf("WebUIVersion", webui_version(profile));
    }
    out.leaf("MacAddress1", mac)
        .leaf("MacAddress2", "")
        .leaf(
            "ProductFamily",
            if profile == Profile::E303 {
                "UMTS"
            } else {
                "LTE"
            },
        )
        .leaf("Classify", "hilink")
        .leaf(
            "supportmode",
            if profile == Profile::E303 {
                "WCDMA|GSM"
            } else {
                "LTE|WCDMA|GSM"
            },
        )
        .leaf(
            "workmode",
            if profile == Profile::E303 {
                "WCDMA"
            } else {
                "LTE"
            },
        );
    if profile == Profile::E3372h320 {
        out.leaf("WanIPAddress", "10.64.12.7")
            .leaf("Mccmnc", "26201")
            .leaf("uptime", 3600);
    }
    out.finish()
}
