//! Integration tests of the edge agent: the journal on its own, then the whole agent with
//! `hilink-sim` as its modem and a real MQTT broker, driven by a stand-in for the API that
//! publishes commands, collects events and acknowledges them as the API does.

mod crash;
mod flows;
mod journal;
mod proxy;
mod support;
