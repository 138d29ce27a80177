//! Integration tests of smsgw-broker: a real broker in-process on free ports, real MQTT
//! clients (rumqttc, as the API and the agent use), and the same delivery checks against
//! Mosquitto on 127.0.0.1:1883 so that smsgw is known to work with either broker; the
//! attacks of one branch on another against smsgw-broker and against a Mosquitto started
//! with the configuration shipped in deploy/mosquitto.

mod attacks;
mod attacks_v5;
mod auth;
mod checks;
mod delivery;
mod helpers;
mod lifecycle;
mod mosquitto;
mod shipped_mosquitto;
mod tls;
