//! hilink: the Huawei HiLink HTTP/XML API, spoken from both ends.
//!
//! The client is the edge agent's modem driver; the simulator (feature `sim`) behaves like
//! the device so that the agent can be tested without one. Protocol notes:
//! `../shared/reference/hilink.md` beside the repository.
