//! `smsgw-agent check`: probes every configured modem and prints model, firmware,
//! operator, signal, SIM and SMS storage — the first thing a technician runs at a branch.

use std::io::Write;

use crate::{
    config::Config,
    modem::{Modem, read_health, unknown_health},
};

/// Probes each modem; writes a report and returns whether every modem answered.
pub async fn run(config: &Config, out: &mut impl Write) -> std::io::Result<bool> {
    let mut all_ok = true;
    for modem_config in &config.modems {
        writeln!(out, "modem {} at {}", modem_config.id, modem_config.url)?;
        let modem = match Modem::new(modem_config, &config.timing) {
            Ok(modem) => modem,
            Err(e) => {
                writeln!(out, "  ERROR  cannot build a client: {e}")?;
                all_ok = false;
                continue;
            }
        };
        match read_health(&modem, &unknown_health(&modem.id)).await {
            Ok(h) => {
                let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                writeln!(out, "  model     {}", or(&h.model))?;
                writeln!(out, "  firmware  {}", or(&h.firmware))?;
                writeln!(out, "  imei      {}", or(&h.imei))?;
                writeln!(out, "  operator  {}", or(&h.operator))?;
                let rat = h
                    .rat
                    .map(|r| format!("{r:?}").to_lowercase())
                    .unwrap_or_else(|| "-".into());
                writeln!(
                    out,
                    "  network   {rat}, registered: {}",
                    if h.registered { "yes" } else { "no" }
                )?;
                let dbm = |v: Option<i32>, unit: &str| {
                    v.map(|x| format!("{x} {unit}"))
                        .unwrap_or_else(|| "-".into())
                };
                writeln!(
                    out,
                    "  signal    {} bars, rssi {}, rsrp {}, sinr {}",
                    h.signal
                        .bars
                        .map(|b| b.to_string())
                        .unwrap_or_else(|| "-".into()),
                    dbm(h.signal.rssi, "dBm"),
                    dbm(h.signal.rsrp, "dBm"),
                    dbm(h.signal.sinr, "dB")
                )?;
                writeln!(out, "  sim       {}", format!("{:?}", h.sim).to_lowercase())?;
                writeln!(
                    out,
                    "  storage   {}/{} messages",
                    h.storage.used, h.storage.max
                )?;
                match modem.client.sms_config().await {
                    Ok(c) if c.use_s_report => writeln!(out, "  reports   delivery reports on")?,
                    Ok(_) => writeln!(
                        out,
                        "  reports   delivery reports off (the agent turns them on)"
                    )?,
                    Err(e) => writeln!(out, "  reports   unknown: {e}")?,
                }
                writeln!(out, "  OK")?;
            }
            Err(e) => {
                writeln!(out, "  ERROR  {e}")?;
                all_ok = false;
            }
        }
    }
    Ok(all_ok)
}
