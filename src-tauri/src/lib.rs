//! slipway-app: the only crate that knows Tauri. Each command turns IPC arguments into a
//! slipway-core call and the core's error into `{code, message}`.

/// Builds the app on any runtime, so that `run()` and the mock-runtime tests share one wiring.
pub fn setup<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
}

/// Opens the Slipway window and runs until it closes.
pub fn run() {
    setup(tauri::Builder::default())
        .run(tauri::generate_context!())
        .expect("the Tauri runtime failed to start");
}
