//! The command list lives in three places that Tauri cannot check against each other: the
//! `generate_handler!` in lib.rs, `COMMANDS` in build.rs (which makes the permissions), and the
//! capability file (which grants them). A command missing from one of them fails only at runtime,
//! in the window, so this test keeps the three in step.

use std::collections::BTreeSet;

fn read(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text between `start` and the next `end`.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).expect(start) + start.len();
    let len = text[from..].find(end).expect(end);
    &text[from..from + len]
}

#[test]
fn handler_build_rs_and_capability_list_the_same_commands() {
    let lib = read("src/lib.rs");
    let handler: BTreeSet<String> = between(&lib, "generate_handler![", "]")
        .split(',')
        .filter_map(|s| s.trim().rsplit("::").next().map(str::to_string))
        .filter(|s| !s.is_empty())
        .collect();

    let build = read("build.rs");
    let declared: BTreeSet<String> = between(&build, "const COMMANDS: &[&str] = &[", "];")
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect();

    let cap: serde_json::Value = serde_json::from_str(&read("capabilities/default.json")).unwrap();
    let granted: BTreeSet<String> = cap["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = p.as_str().expect("plain permission names");
            p.strip_prefix("allow-")
                .unwrap_or_else(|| {
                    panic!("only allow-<command> permissions are granted, found {p}")
                })
                .replace('-', "_")
        })
        .collect();

    assert!(!handler.is_empty());
    assert_eq!(
        handler, declared,
        "lib.rs generate_handler! vs build.rs COMMANDS"
    );
    assert_eq!(
        handler, granted,
        "lib.rs generate_handler! vs capabilities/default.json"
    );
}
