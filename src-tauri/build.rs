//! Declares Slipway's commands to Tauri so that each gets an `allow-<command>` permission; the
//! capability file then grants exactly these, and nothing else, to the main window.

/// Every command in `setup()`'s `generate_handler!`; a command missing here is refused at runtime.
const COMMANDS: &[&str] = &[
    "op_cancel",
    "engine_status",
    "containers_list",
    "images_list",
    "image_inspect",
    "image_tag",
    "image_remove",
    "image_pull",
    "image_build",
    "workshop_start",
    "workshop_remove",
    "workshops_running",
    "terminal_open",
    "terminal_input",
    "terminal_resize",
    "terminal_close",
    "container_changes",
    "workshop_hygiene",
    "workshop_clean",
    "validate_reference",
    "container_commit",
    "workshop_log",
    "workshop_log_label",
    "workshop_dockerfile",
    "workshop_dockerfile_save",
    "workshop_replay",
    "profiles_list",
    "profile_save",
    "profile_remove",
    "local_registry_status",
    "local_registry_start",
    "local_registry_stop",
    "profile_test",
    "registry_catalog",
    "registry_tags",
    "registry_tag_details",
    "registry_delete_tag",
    "registry_copy",
    "image_push",
    "registry_delete_plan",
    "registry_delete_execute",
    "registry_usage",
    "local_registry_gc",
    "registry_gc_instructions",
    "registry_elsewhere",
    "registry_fetch",
    "pull_profile",
    "registry_pull_commands",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
