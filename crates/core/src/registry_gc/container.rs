//! Garbage collection of the registry that runs as the `registry:2` image: a one-off container of
//! the same image, on the same bind-mounted data and with the same configuration, whose
//! entrypoint is the registry program with `garbage-collect` instead of `serve`.
//!
//! The serving container cannot do it with `exec`: the collection must run while the registry is
//! stopped, and a stopped container runs nothing. The one-off container publishes no port, so a
//! dry run can go while the registry keeps serving.

use std::path::Path;

use slipway_engine::containers::ContainerSpec;
use slipway_engine::Engine;

use super::{arguments, Collected};
use crate::local_registry::{container_log, LocalRegistry, IMAGE_CONFIG, IMAGE_PROGRAM};

/// The label on the one-off container, so that one a crash left behind is recognisable as ours.
const GC_LABEL: &str = "io.slipway.local-registry-gc";

/// Creates the collecting container, runs it to its end, keeps its output and removes it.
pub(super) async fn collect(
    reg: &LocalRegistry,
    engine: &Engine,
    storage: &Path,
    dry_run: bool,
) -> Collected {
    let spec = ContainerSpec {
        // The image's own entrypoint may be a script that only knows `serve` (upstream's
        // `/entrypoint.sh`), so the program is named directly.
        entrypoint: Some(vec![IMAGE_PROGRAM.to_string()]),
        cmd: Some(arguments(dry_run, IMAGE_CONFIG)),
        labels: [(GC_LABEL.to_string(), "true".to_string())].into(),
        ..reg.image_spec(storage)
    };
    let image = &spec.image;
    let id = match engine.create_container(&spec).await {
        Ok(id) => id,
        Err(e) => return failed(format!("could not create a container of {image}"), e),
    };
    let ran = async {
        engine.start_container(&id).await?;
        engine.wait_container(&id).await
    }
    .await;
    // The output is read before the container goes; the container goes whatever happened.
    let output = container_log(engine, &id).await;
    let _ = engine.remove_container(&id, true).await;
    match ran {
        Ok(code) => Collected {
            success: code == 0,
            status: format!("the {image} container exited with {code}"),
            output,
        },
        Err(e) => failed(format!("could not run a container of {image}"), e),
    }
}

fn failed(status: String, e: slipway_engine::Error) -> Collected {
    Collected {
        success: false,
        status,
        output: e.to_string(),
    }
}
