//! The AsyncAPI document: well formed, one channel per topic kind, and every golden
//! payload valid against its schema (while broken payloads are not), so the document
//! cannot drift from the code.

use serde_json::{Value, json};
use smsgw_shared::{TopicKind, wire::WireMessage};

use crate::{golden_files, kind_of};

fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/asyncapi.yaml");
    let text = std::fs::read_to_string(path).expect("asyncapi.yaml is readable");
    yaml_serde::from_str(&text).expect("asyncapi.yaml is valid YAML")
}

fn schema_name(kind: TopicKind) -> &'static str {
    match kind {
        TopicKind::CommandSend => "SendCommand",
        TopicKind::CommandCancel => "CancelCommand",
        TopicKind::CommandAck => "AckCommand",
        TopicKind::EventStatus => "StatusEvent",
        TopicKind::EventInbound => "InboundEvent",
        TopicKind::StateConn => "ConnState",
        TopicKind::StateModems => "ModemsState",
    }
}

/// A validator for one payload schema, resolving `$ref`s inside the whole document.
fn validator(doc: &Value, kind: TopicKind) -> jsonschema::Validator {
    let mut schema = doc.clone();
    schema["$ref"] = json!(format!("#/components/schemas/{}", schema_name(kind)));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("schema of {kind}: {e}"))
}

#[test]
fn the_document_declares_every_topic() {
    let doc = document();
    assert_eq!(doc["asyncapi"], json!("3.0.0"));
    let channels = doc["channels"].as_object().expect("channels");
    let addresses: Vec<&str> = channels
        .values()
        .filter_map(|c| c["address"].as_str())
        .collect();
    for kind in TopicKind::ALL {
        let address = format!("{{root}}/{{site}}/{}", kind.suffix());
        assert!(
            addresses.contains(&address.as_str()),
            "no channel for {address}"
        );
        let message = &doc["components"]["messages"][schema_name(kind)];
        assert!(message.is_object(), "no message for {kind}");
    }
    for (name, op) in doc["operations"].as_object().expect("operations") {
        let retain = op["bindings"]["mqtt"]["retain"].as_bool();
        let channel = op["channel"]["$ref"].as_str().unwrap_or_default();
        let is_state = channel.contains("state");
        assert_eq!(
            retain,
            Some(is_state),
            "{name}: retained exactly for state topics"
        );
        assert_eq!(op["bindings"]["mqtt"]["qos"], json!(1), "{name}");
    }
}

#[test]
fn every_golden_payload_is_valid_against_the_document() {
    let doc = document();
    for (stem, text) in golden_files() {
        let kind = kind_of(&stem);
        let instance: Value = serde_json::from_str(&text).expect("json");
        let validator = validator(&doc, kind);
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{stem}: {errors:?}");
    }
}

#[test]
fn broken_payloads_fail_the_document_too() {
    let doc = document();
    for (stem, text) in golden_files() {
        let kind = kind_of(&stem);
        let validator = validator(&doc, kind);
        let original: Value = serde_json::from_str(&text).expect("json");
        let object = original.as_object().expect("object");
        for field in object.keys() {
            let mut broken = original.clone();
            broken[field.as_str()] = json!({"wrong": "type"});
            assert!(
                !validator.is_valid(&broken),
                "{stem}: a wrong `{field}` passes the schema"
            );
            let mut missing = original.clone();
            if let Some(o) = missing.as_object_mut() {
                o.remove(field.as_str());
            }
            let bytes = serde_json::to_vec(&missing).expect("json");
            let code_requires = WireMessage::decode(kind, &bytes).is_err();
            assert_eq!(
                validator.is_valid(&missing),
                !code_requires,
                "{stem}: the schema and the code disagree on whether `{field}` is required"
            );
        }
        let mut versioned = original.clone();
        versioned["v"] = json!(2);
        assert!(
            !validator.is_valid(&versioned),
            "{stem}: v=2 passes the schema"
        );
    }
}
