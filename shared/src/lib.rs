//! smsgw-shared: everything both ends of a wire must agree on.
//!
//! The API and the edge agent never define a payload of their own: MQTT topics and
//! payloads, the message state machine, SMS encoding rules, phone numbers and ids live
//! here once. Other systems that consume our topics can read the same contract in
//! `asyncapi.yaml`, which the tests keep in step with these types.

pub mod acl;
pub mod broker;
pub mod credentials;
pub mod ids;
#[cfg(feature = "mosquitto")]
pub mod mosquitto;
#[cfg(feature = "mqtt")]
pub mod mqtt;
pub mod phone;
pub mod sms;
pub mod state;
pub mod topic;
pub mod wire;

pub use ids::{EventId, IdError, MessageId, ModemId, SiteId};
pub use phone::{PhoneError, PhoneNumber, Region};
pub use sms::{Encoding, MessageText, TextError, TextInfo};
pub use state::{MessageState, can_advance};
pub use topic::{TopicKind, Topics};
