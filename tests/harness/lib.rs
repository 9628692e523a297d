//! The test harness: an offline base image and registries on loopback, all real.
//!
//! Nothing here is a mock. The engines are the system engine and those `scripts/engines` starts
//! beside it ([`TestEngine`]). The base image is built from Debian's `busybox-static` and imported
//! into each real engine, because no image can be pulled from the internet on the machines that run
//! these tests; a Debian base for apt-get is made with debootstrap from the machine's own mirror
//! ([`debian_image`]). Registries are Debian's `docker-registry` (the reference implementation) started
//! on 127.0.0.1 with a throwaway config.

mod base;
mod debian;
mod engine;
mod engines;
mod hostile;
mod registry;
mod registry_image;
mod secure;
mod seed;

pub use base::{base_image, base_image_on, unique_base_on, BASE_IMAGE};
pub use debian::{debian_image, debian_image_on, DEBIAN_IMAGE};
pub use engine::{
    assert_runs_and_says, assert_runs_and_says_on, connect, connect_to, derive_image,
    derive_image_from_on, derive_image_on, Scene, TempContainer, TempImage,
};
pub use engines::{EngineKind, ImageStore, TestEngine, SYSTEM};
pub use hostile::{basic_header, Hostile, Misbehaviour, Seen, FAKE_TOKEN, SELF};
pub use registry::{free_port, Registry, RegistryConfig};
pub use registry_image::{registry_image, REGISTRY_IMAGE};
pub use secure::{SecureRegistry, TestPki, TEST_IDENTITY_TOKEN, TEST_PASSWORD, TEST_USER};
pub use seed::{anonymous_client, push_tiny_image, seed_repositories, TinyImage};

/// Held around each push or fetch of a test that relies on what an engine remembers. Engines
/// remember where a layer is by the relay's host:port (Slipway's push and pull relays share one
/// port). Transfers on one tokio runtime share that port, but each test has a runtime of its own
/// and the tests of one binary run at once: a relay whose port another test's push or fetch
/// holds falls back to any free port, so an incremental push after it would send everything
/// again.
/// Once held, it also waits (2 s at most) until no relay of an earlier test listens at the
/// relays' port any more: a test's runtime lets its listener go only on its next turn, and a
/// relay that found the port still held would take the next one, where the engine remembers
/// nothing.
pub async fn relay_port() -> tokio::sync::MutexGuard<'static, ()> {
    static PORT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let held = PORT.lock().await;
    port_becomes(relays_port(), false, std::time::Duration::from_secs(2)).await;
    held
}

/// Waits, `within` at most, until something listens at 127.0.0.1:`port` (`listening`) or
/// nothing does; whether it came to that. A connection asks, not a bind: a bind would hold the
/// port for a moment, and a relay starting then would find it taken.
pub async fn port_becomes(port: u16, listening: bool, within: std::time::Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let answers = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok();
        if answers == listening {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// The port Slipway's relays listen on: `SLIPWAY_RELAY_PORT`, else 5099.
pub fn relays_port() -> u16 {
    std::env::var("SLIPWAY_RELAY_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5099)
}

/// A push of `image` to `target` on a plain test registry with no stored credentials, along
/// `route`, with the push cache in `cache`.
pub fn anonymous_push(
    image: &str,
    target: &str,
    route: slipway_core::push::Route,
    cache: &std::path::Path,
) -> slipway_core::push::PushRequest {
    slipway_core::push::PushRequest {
        image: image.to_string(),
        target: target.to_string(),
        access: slipway_core::registry::RegistryAccess {
            anonymous: true,
            ..Default::default()
        },
        cache_dir: Some(cache.to_path_buf()),
        route,
        ..Default::default()
    }
}

/// A fetch of `reference` from a plain test registry with no stored credentials; the push cache
/// in `cache` learns what the engine then holds.
pub fn anonymous_fetch(
    reference: &str,
    cache: &std::path::Path,
) -> slipway_core::fetch::FetchRequest {
    slipway_core::fetch::FetchRequest {
        reference: reference.to_string(),
        access: slipway_core::registry::RegistryAccess {
            anonymous: true,
            ..Default::default()
        },
        cache_dir: Some(cache.to_path_buf()),
        ..Default::default()
    }
}

/// Runs a command to completion and returns its stdout, panicking with stderr on failure so that a
/// broken prerequisite reads as such instead of as a confusing assertion later.
pub fn run(program: &str, args: &[&str]) -> String {
    run_command(std::process::Command::new(program), program, args, SYSTEM)
}

/// [`run`] for a command already set up (e.g. with `DOCKER_HOST`), naming `engine` in the failure.
pub(crate) fn run_command(
    mut command: std::process::Command,
    program: &str,
    args: &[&str],
    engine: &str,
) -> String {
    let out = command
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("could not start `{program}`: {e}; is it installed?"));
    assert!(
        out.status.success(),
        "`{program} {}` failed on {engine} ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A name unique to this process and call, for containers, images and repositories that tests
/// create, so that test binaries can run side by side without stepping on each other.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}
