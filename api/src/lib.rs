//! smsgw-api: the stateless cloud API of smsgw.
//!
//! Applications send and read SMS here over HTTPS; every message lives in PostgreSQL and
//! travels to the branch agents as MQTT commands. The HTTP, storage and MQTT parts arrive
//! with the [api] issue; this crate holds no behaviour yet.
