//! smsgw-broker: the MQTT broker that joins the cloud API and the branch agents.
//!
//! It embeds rumqttd with JWT authentication, TLS and metrics. The broker arrives with the
//! [broker] issue; this crate holds no behaviour yet.
