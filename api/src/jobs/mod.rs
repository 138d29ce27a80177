//! Background loops of an API replica. Each is safe to run on every replica at once: it
//! claims work with `FOR UPDATE SKIP LOCKED` or does idempotent deletes, so no loop needs
//! a leader (DESIGN §4). The MQTT re-dispatch loop joins them next.

pub mod housekeeping;
pub mod retention;
