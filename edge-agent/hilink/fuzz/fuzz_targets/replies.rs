//! Every reply parser on arbitrary bytes: an error value is fine, a panic is a bug.
#![no_main]

use hilink::model::device::parse_measure;
use hilink::model::login::{
    HilinkLogin, ScramChallenge, ScramFinal, SesTokInfo, StateLogin, TokenReply,
};
use hilink::model::ussd::{UssdContent, UssdStatus};
use hilink::xml::{FromResponse, decode_body, parse_response, parse_root};
use hilink::{
    CurrentPlmn, DeviceInformation, MonitoringStatus, Notifications, SendStatus, Signal, SmsConfig,
    SmsCount, SmsList, TrafficStatistics,
};
use libfuzzer_sys::fuzz_target;

fn check<T: FromResponse + std::fmt::Debug>(data: &[u8]) {
    match parse_response::<T>(data) {
        Ok(value) => {
            let _ = format!("{value:?}");
        }
        Err(error) => {
            let _ = (error.to_string(), error.class(), error.code());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = decode_body(data);
    let _ = parse_measure(&text);
    if let Ok(root) = parse_root(data) {
        for child in &root.children {
            let _ = parse_measure(&child.text);
        }
    }
    check::<()>(data);
    check::<SmsList>(data);
    check::<SmsCount>(data);
    check::<SendStatus>(data);
    check::<SmsConfig>(data);
    check::<MonitoringStatus>(data);
    check::<Notifications>(data);
    check::<CurrentPlmn>(data);
    check::<Signal>(data);
    check::<DeviceInformation>(data);
    check::<TrafficStatistics>(data);
    check::<SesTokInfo>(data);
    check::<TokenReply>(data);
    check::<HilinkLogin>(data);
    check::<StateLogin>(data);
    check::<ScramChallenge>(data);
    check::<ScramFinal>(data);
    check::<UssdContent>(data);
    check::<UssdStatus>(data);
    if let Ok(token) = parse_response::<TokenReply>(data) {
        let _ = token.usable();
    }
});
