//! The README's list of problem codes carries every code the API answers with: each
//! stable `code` written in the source (a `FieldError`, an admin field check or an
//! `ApiError`'s status and code) must appear in README.md as `` `code` ``.

use std::path::Path;

/// The string literal right after `marker` (and, for `StatusCode::NAME,`, after the name
/// and its comma), wherever it stands in `text`.
fn literals_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices(marker) {
        let rest = &text[at + marker.len()..];
        let rest = if marker == "StatusCode::" {
            let name_end = rest
                .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
                .unwrap_or(rest.len());
            match rest[name_end..].strip_prefix(',') {
                Some(after) => after,
                None => continue,
            }
        } else {
            rest
        };
        let Some(literal) = rest.trim_start().strip_prefix('"') else {
            continue;
        };
        if let Some(end) = literal.find('"') {
            let code = &literal[..end];
            if !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                found.push(code);
            }
        }
    }
    found
}

fn sources(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(&path).expect("source"));
        }
    }
}

#[test]
fn every_problem_code_is_listed_in_the_readme() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("../README.md")).expect("README.md");
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let mut codes: Vec<&str> = files
        .iter()
        .flat_map(|text| {
            ["FieldError::new(", "invalid(", "StatusCode::"]
                .into_iter()
                .flat_map(move |marker| literals_after(text, marker))
        })
        .collect();
    codes.sort_unstable();
    codes.dedup();
    assert!(codes.len() > 40, "the scan finds the codes: {codes:?}");
    for expected in [
        "site_not_allowed",
        "too_many_attempts",
        "not_erasable",
        "invalid_sites",
    ] {
        assert!(
            codes.contains(&expected),
            "{expected} not found by the scan"
        );
    }
    let missing: Vec<&&str> = codes
        .iter()
        .filter(|code| !readme.contains(&format!("`{code}`")))
        .collect();
    assert!(missing.is_empty(), "README.md does not list {missing:?}");
}
