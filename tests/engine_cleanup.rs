//! Cleanup shared by the engine scenarios (included with `mod`, not a test target itself).

#![allow(dead_code)]

/// Removes, on drop, every container and image a scenario created, through the docker CLI so that
/// cleanup works even after a failed assertion left the runtime half torn down.
#[derive(Default)]
pub struct Cleanup {
    pub containers: Vec<String>,
    pub images: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for container in &self.containers {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f", container])
                .output();
        }
        for image in &self.images {
            let _ = std::process::Command::new("docker")
                .args(["rmi", "-f", image])
                .output();
        }
    }
}
