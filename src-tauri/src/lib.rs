//! slipway-app: the only crate that knows Tauri. Each command turns IPC arguments into a
//! slipway-core call and the core's error into `{code, message}`; progress goes to the page through
//! `tauri::ipc::Channel`.

pub mod commands;
pub mod error;
pub mod state;

use tauri::Manager;

use commands::{
    engine, housekeeping, images, local_registry, ops, profiles, registry, terminal, workshop,
};

/// Builds the app on any runtime, so that `run()` and the mock-runtime tests share one wiring.
/// Keep the command list in step with `COMMANDS` in build.rs and capabilities/default.json.
pub fn setup<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .manage(ops::Ops::default())
        .manage(state::EngineConn::default())
        .manage(slipway_core::local_registry::LocalRegistry::default())
        .manage(slipway_core::Terminals::default())
        .invoke_handler(tauri::generate_handler![
            ops::op_cancel,
            engine::engine_status,
            engine::containers_list,
            images::images_list,
            images::image_inspect,
            images::image_tag,
            images::image_remove,
            images::image_pull,
            images::image_build,
            workshop::workshop_start,
            workshop::workshop_remove,
            workshop::workshops_running,
            terminal::terminal_open,
            terminal::terminal_input,
            terminal::terminal_resize,
            terminal::terminal_close,
            workshop::container_changes,
            workshop::workshop_hygiene,
            workshop::workshop_clean,
            workshop::validate_reference,
            workshop::container_commit,
            workshop::workshop_log,
            workshop::workshop_log_label,
            workshop::workshop_dockerfile,
            workshop::workshop_dockerfile_save,
            workshop::workshop_replay,
            profiles::profiles_list,
            profiles::profile_save,
            profiles::profile_remove,
            local_registry::local_registry_status,
            local_registry::local_registry_start,
            local_registry::local_registry_stop,
            registry::profile_test,
            registry::registry_catalog,
            registry::registry_tags,
            registry::registry_tag_details,
            registry::registry_delete_tag,
            registry::registry_copy,
            registry::image_push,
            housekeeping::registry_delete_plan,
            housekeeping::registry_delete_execute,
            housekeeping::registry_usage,
            housekeeping::local_registry_gc,
            housekeeping::registry_gc_instructions,
            housekeeping::registry_elsewhere,
            registry::registry_fetch,
            registry::pull_profile,
            registry::registry_pull_commands,
        ])
}

/// Opens the Slipway window and runs until it closes.
pub fn run() {
    setup(tauri::Builder::default())
        .build(tauri::generate_context!())
        .expect("the Tauri runtime failed to start")
        .run(|app, event| {
            // Tauri exits the process without dropping managed state, so the registry child
            // would outlive the app; stop it explicitly.
            // The terminals' shells are killed too, so none is left waiting on a TTY that
            // nobody reads; the workshops themselves keep running.
            if let tauri::RunEvent::Exit = event {
                let registry = app.state::<slipway_core::local_registry::LocalRegistry>();
                tauri::async_runtime::block_on(registry.stop_on_exit());
                let terminals = app.state::<slipway_core::Terminals>();
                tauri::async_runtime::block_on(terminals.close_all());
            }
        });
}
