//! The API's side of MQTT (DESIGN §2–§3). The parts here are independent of the MQTT
//! client so that they are tested without a broker: [`credentials`] (agent broker
//! credentials), [`commands`] (a due message as a `command/send` payload) and [`ingest`]
//! (an incoming event applied to the database, returning what to acknowledge). [`link`]
//! is the rumqttc connection that joins them, with the [`dispatcher`] loop.

pub mod commands;
pub mod credentials;
pub mod dispatcher;
pub mod ingest;
pub mod link;
