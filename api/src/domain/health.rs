//! The gateway's health in the original gateway's terms (`GET /api/health`): one `status`,
//! the modems described as one `modem`, and the rules that decide them. The original
//! drove one modem; here every site has its own, so [`summarize`] describes them as the
//! best connected one (the modem a message would most likely go out through), and says
//! `connected: false` only when no modem at all is connected.

use serde::Serialize;
use smsgw_shared::wire::{Circuit, ModemHealth, Signal, SimState};

/// The gateway as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The database answers, this replica is connected to its broker and a modem is
    /// connected: messages go out.
    Healthy,
    /// The database answers, so messages are accepted, but they wait: no modem is
    /// connected, or this replica has no broker link (none configured, or lost).
    Degraded,
    /// The database does not answer: nothing can be accepted (HTTP 503).
    Unhealthy,
}

/// The overall status from its three inputs.
pub fn status(database: bool, broker_connected: bool, modem_connected: bool) -> Status {
    match (database, broker_connected && modem_connected) {
        (false, _) => Status::Unhealthy,
        (true, false) => Status::Degraded,
        (true, true) => Status::Healthy,
    }
}

/// The modems as one, in the original's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ModemSummary {
    /// Whether at least one modem is connected: its site's agent online, registered on a
    /// network, SIM ready and circuit closed.
    pub connected: bool,
    /// Signal of the best connected modem, percent 0–100 (0 when none is connected).
    #[schema(maximum = 100)]
    pub signal_strength: u8,
    /// Operator name of the best connected modem (`null` when none is connected or it
    /// reported none).
    pub network: Option<String>,
}

/// A modem that can send now: registered, SIM ready and its circuit closed (the agent
/// sends through it). The site's agent must be online too, see [`summarize`].
pub fn modem_is_up(modem: &ModemHealth) -> bool {
    modem.registered && modem.sim == SimState::Ready && modem.circuit == Circuit::Closed
}

/// Signal strength in percent: bars 0–5 as 0–100, else RSSI from -113 dBm (0) to -51 dBm
/// (100), the range the 3GPP RSSI scale reports; nothing reported is 0.
pub fn signal_percent(signal: &Signal) -> u8 {
    if let Some(bars) = signal.bars {
        return bars.min(5).saturating_mul(20);
    }
    match signal.rssi {
        Some(rssi) => {
            let percent = (i64::from(rssi) + 113) * 100 / 62;
            u8::try_from(percent.clamp(0, 100)).unwrap_or(0)
        }
        None => 0,
    }
}

/// The modems of every site taken into account, each with whether its site's agent is
/// online, described as one (see the module documentation). Ties go to the first.
pub fn summarize<'a>(modems: impl IntoIterator<Item = (bool, &'a ModemHealth)>) -> ModemSummary {
    let best = modems
        .into_iter()
        .filter(|(online, modem)| *online && modem_is_up(modem))
        .map(|(_, modem)| modem)
        .fold(None::<&ModemHealth>, |best, modem| match best {
            Some(b) if signal_percent(&b.signal) >= signal_percent(&modem.signal) => Some(b),
            _ => Some(modem),
        });
    match best {
        Some(modem) => ModemSummary {
            connected: true,
            signal_strength: signal_percent(&modem.signal),
            network: modem.operator.clone(),
        },
        None => ModemSummary {
            connected: false,
            signal_strength: 0,
            network: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modem(id: &str, bars: Option<u8>, operator: &str) -> ModemHealth {
        serde_json::from_value(serde_json::json!({
            "id": id, "operator": operator, "signal": {"bars": bars},
            "sim": "ready", "registered": true, "circuit": "closed", "queue": 0,
            "storage": {"used": 0, "max": 100}
        }))
        .expect("modem")
    }

    #[test]
    fn the_best_connected_modem_speaks_for_all() {
        let weak = modem("usb0", Some(2), "Free");
        let strong = modem("usb1", Some(4), "Orange F");
        let mut broken = modem("usb2", Some(5), "SFR");
        broken.circuit = Circuit::Open;
        let offline_site = modem("usb3", Some(5), "Bouygues");
        let summary = summarize([
            (true, &weak),
            (true, &strong),
            (true, &broken),
            (false, &offline_site),
        ]);
        assert_eq!(
            summary,
            ModemSummary {
                connected: true,
                signal_strength: 80,
                network: Some("Orange F".into())
            }
        );
        assert_eq!(
            summarize([(true, &broken), (false, &offline_site)]),
            ModemSummary {
                connected: false,
                signal_strength: 0,
                network: None
            }
        );
    }

    #[test]
    fn signal_is_a_percentage() {
        let of = |bars, rssi| {
            signal_percent(&Signal {
                bars,
                rssi,
                rsrp: None,
                sinr: None,
            })
        };
        assert_eq!(of(Some(0), None), 0);
        assert_eq!(of(Some(5), Some(-113)), 100, "bars win");
        assert_eq!(of(Some(9), None), 100);
        assert_eq!(of(None, Some(-113)), 0);
        assert_eq!(of(None, Some(-82)), 50);
        assert_eq!(of(None, Some(-51)), 100);
        assert_eq!(of(None, Some(-20)), 100);
        assert_eq!(of(None, Some(-130)), 0);
        assert_eq!(of(None, None), 0);
    }

    #[test]
    fn status_rules() {
        assert_eq!(status(true, true, true), Status::Healthy);
        assert_eq!(status(true, false, true), Status::Degraded);
        assert_eq!(status(true, true, false), Status::Degraded);
        assert_eq!(status(false, true, true), Status::Unhealthy);
    }
}
