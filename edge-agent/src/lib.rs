//! smsgw-agent: the edge agent that runs at a branch beside its Huawei modems.
//!
//! It journals send commands durably, drives each modem through the `hilink` crate and
//! reports status, delivery reports, inbound SMS and modem health over MQTT. The journal,
//! sender and poller arrive with the [agent] issue; this crate holds no behaviour yet.
