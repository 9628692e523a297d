//! Command wiring without a display: the real `setup()` on Tauri's mock runtime, invoked the way
//! the page invokes, checking that arguments arrive and errors come back as `{code, message}`.
#![cfg(feature = "test")]

use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindowBuilder;

fn invoke(cmd: &str, args: Value) -> Result<Value, Value> {
    let app = slipway_app::setup(mock_builder())
        .build(mock_context(noop_assets()))
        .expect("the app builds on the mock runtime");
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("a mock window");
    get_ipc_response(
        &webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().expect("JSON answer"))
}

/// One test, so the config dir set for it is not raced by another test thread.
#[test]
fn commands_are_wired_and_errors_are_code_and_message() {
    let home = tempfile::tempdir().unwrap();
    // The profile store lives under the config dir; point it at a temp dir for this process.
    std::env::set_var("XDG_CONFIG_HOME", home.path());

    let profiles = invoke("profiles_list", json!({})).expect("profiles_list answers");
    assert_eq!(
        profiles[0]["name"], "local",
        "the managed registry is the default: {profiles}"
    );
    assert_eq!(profiles[0]["managed"], true);

    let saved = invoke(
        "profile_save",
        json!({"profile": {"name": "team", "address": "127.0.0.1:5999", "allow_http": true}, "password": null, "opId": "wiring"}),
    )
    .expect("a valid profile saves");
    assert_eq!(saved["address"], "127.0.0.1:5999");
    let file = std::fs::read_to_string(home.path().join("slipway/registries.json")).unwrap();
    assert!(file.contains("127.0.0.1:5999"));

    let err = invoke(
        "profile_save",
        json!({"profile": {"name": "bad", "address": "http://x:5000"}, "password": null, "opId": "wiring"}),
    )
    .expect_err("an address with a scheme is refused");
    assert_eq!(err["code"], "invalid_profile", "{err}");
    assert!(err["message"].as_str().unwrap().contains("scheme"), "{err}");

    let check = invoke(
        "validate_reference",
        json!({"repository": "Team/Hello", "tag": "1.0"}),
    )
    .expect("validate_reference answers");
    assert_eq!(check["repository"]["code"], "invalid_reference", "{check}");
    assert!(check["tag"].is_null(), "{check}");
    let check = invoke(
        "validate_reference",
        json!({"repository": "team/hello", "tag": "-bad"}),
    )
    .expect("validate_reference answers");
    assert!(check["repository"].is_null(), "{check}");
    assert!(
        check["tag"]["message"].as_str().unwrap().contains("tag"),
        "{check}"
    );
    let check = invoke(
        "validate_reference",
        json!({"repository": "127.0.0.1:5000/team/hello", "tag": "1.0"}),
    )
    .unwrap();
    assert!(
        check["repository"].is_null() && check["tag"].is_null(),
        "{check}"
    );

    assert_eq!(
        invoke("op_cancel", json!({"opId": "nothing"})).unwrap(),
        false
    );

    // The terminal's commands are wired; keys for a session that is not open are refused.
    let err = invoke(
        "terminal_input",
        json!({"id": "terminal-gone", "data": "ls\r"}),
    )
    .expect_err("input to a terminal that is not open is refused");
    assert_eq!(err["code"], "not_found", "{err}");
    let err = invoke(
        "terminal_resize",
        json!({"id": "terminal-gone", "rows": 0, "cols": 80}),
    )
    .expect_err("a terminal without rows is refused");
    assert_eq!(err["code"], "invalid_input", "{err}");

    // Build is wired with its channel; a tag the grammar refuses is refused before any build
    // (an engine that cannot be reached answers with its own code, still as `{code, message}`).
    let err = invoke(
        "image_build",
        json!({"dir": "/nonexistent", "tag": "Team/App:1", "opId": "wiring-build", "onEvent": "__CHANNEL__:7"}),
    )
    .expect_err("an invalid tag is refused");
    assert!(
        ["invalid_reference", "engine_unreachable"].contains(&err["code"].as_str().unwrap_or("")),
        "{err}"
    );
}
