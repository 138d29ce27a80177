//! SMS settings (`sms/config`), read and written; delivery reports are switched on here.

use crate::error::Error;
use crate::xml::{Element, FromResponse, RequestXml};

/// SMS settings (`sms/config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsConfig {
    /// 0 local, 1 SIM, 2 SIM first, 3 local first.
    pub save_mode: i32,
    /// Validity in hours (1/12/24/168) or 10752 for the maximum.
    pub validity: i32,
    /// Message centre number.
    pub sca: String,
    /// Whether delivery reports are requested.
    pub use_s_report: bool,
    /// 0 send only, 1 send and save.
    pub send_type: i32,
    /// Priority 0–3.
    pub priority: i32,
    /// The WebUI page size, read only.
    pub pagesize: Option<u32>,
    /// Recipients per send, read only.
    pub maxphone: Option<u32>,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            save_mode: 0,
            validity: 10752,
            sca: String::new(),
            use_s_report: false,
            send_type: 1,
            priority: 0,
            pagesize: None,
            maxphone: None,
        }
    }
}

impl FromResponse for SmsConfig {
    fn from_response(root: &Element) -> Result<Self, Error> {
        let defaults = SmsConfig::default();
        Ok(SmsConfig {
            save_mode: root.num("SaveMode").unwrap_or(defaults.save_mode),
            validity: root.num("Validity").unwrap_or(defaults.validity),
            sca: root.string("Sca"),
            use_s_report: root.flag("UseSReport").unwrap_or(false),
            send_type: root.num("SendType").unwrap_or(defaults.send_type),
            priority: root.num("Priority").unwrap_or(defaults.priority),
            pagesize: root.num("pagesize"),
            maxphone: root.num("maxphone"),
        })
    }
}

impl SmsConfig {
    /// The write body, WebUI order: `SaveMode, Validity, Sca, UseSReport, SendType, Priority`.
    pub fn to_xml(&self) -> String {
        RequestXml::new()
            .field("SaveMode", self.save_mode)
            .field("Validity", self.validity)
            .field("Sca", &self.sca)
            .field("UseSReport", u8::from(self.use_s_report))
            .field("SendType", self.send_type)
            .field("Priority", self.priority)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_response;

    #[test]
    fn config_round_trip() {
        let cfg: SmsConfig = parse_response(b"<response><SaveMode>0</SaveMode><Validity>10752</Validity><Sca>+41787777070</Sca><UseSReport>0</UseSReport><SendType>1</SendType><pagesize>20</pagesize><maxphone>50</maxphone><import_enabled>1</import_enabled></response>").unwrap();
        assert!(!cfg.use_s_report);
        assert_eq!(cfg.sca, "+41787777070");
        assert_eq!(cfg.maxphone, Some(50));
        let on = SmsConfig {
            use_s_report: true,
            ..cfg
        };
        assert!(on.to_xml().ends_with("<request><SaveMode>0</SaveMode><Validity>10752</Validity><Sca>+41787777070</Sca><UseSReport>1</UseSReport><SendType>1</SendType><Priority>0</Priority></request>"));
        let py: SmsConfig =
            parse_response(b"<response><UseSReport>true</UseSReport></response>").unwrap();
        assert!(py.use_s_report);
    }
}
