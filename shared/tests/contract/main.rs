//! The contract tests of smsgw-shared: phone numbers, SMS text rules, topics, payloads and
//! the AsyncAPI document, in one test binary.

mod asyncapi;
mod payloads;
mod phone;
mod sms;
mod topics;

use std::path::PathBuf;

/// Every golden payload under `tests/golden/`, as (file stem, JSON text).
pub fn golden_files() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/golden exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let stem = path
                .file_stem()
                .expect("a name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("readable golden file");
            (stem, text)
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 7,
        "golden files missing in {}",
        dir.display()
    );
    files
}

/// The topic kind a golden file belongs to, from its name (`command_send_minimal` → send).
pub fn kind_of(stem: &str) -> smsgw_shared::TopicKind {
    smsgw_shared::TopicKind::ALL
        .into_iter()
        .find(|k| stem.starts_with(&k.suffix().replace('/', "_")))
        .unwrap_or_else(|| panic!("golden file {stem} names no topic kind"))
}
