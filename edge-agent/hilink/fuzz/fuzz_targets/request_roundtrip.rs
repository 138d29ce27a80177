//! A send-sms body built from any text parses back to the same text: escaping and CESU-8
//! encoding lose nothing.
#![no_main]

use hilink::model::sms::send_sms_body;
use hilink::xml::{decode_body, encode_cesu8, parse};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;

fuzz_target!(|text: &str| {
    let Ok(body) = send_sms_body(&["+4512345678"], text, datetime!(2020-01-01 12:00:00)) else {
        return;
    };
    let bytes = encode_cesu8(&body);
    let decoded = decode_body(&bytes);
    assert_eq!(decoded, body);
    let root = parse(&decoded).expect("our own body parses");
    assert_eq!(root.name, "request");
    assert_eq!(root.raw("Content"), Some(text));
});
