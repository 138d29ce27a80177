//! smsgw-shared: everything both ends of a wire must agree on.
//!
//! The API and the edge agent never define a payload of their own: MQTT topics and
//! payloads, the message state machine, SMS encoding rules, phone numbers and ids live
//! here once. Other systems that consume our topics can read the same contract in
//! `asyncapi.yaml`, which the tests keep in step with these types.

pub mod sms;
