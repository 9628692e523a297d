//! An offline base image: a busybox rootfs imported into each engine under test.

use std::collections::BTreeSet;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Mutex;

use crate::{TempImage, TestEngine};

/// The reference of the offline base image every scenario starts from.
pub const BASE_IMAGE: &str = "slipway-test/base:1";

const BUSYBOX: &str = "/bin/busybox";

/// Makes sure [`BASE_IMAGE`] exists in the system engine and returns its reference.
///
/// The image is a static busybox with every applet linked into /bin, a root user and a /tmp, which
/// is enough for a shell, file edits and `sleep`. Building it twice is harmless (the tag moves to an
/// identical image), so the lock only saves work inside one test binary.
pub fn base_image() -> String {
    base_image_on(&TestEngine::system())
}

/// [`base_image`] in `engine`: each engine imports the same rootfs, so the base layer's diff_id is
/// the same everywhere.
pub fn base_image_on(engine: &TestEngine) -> String {
    static BUILT: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    ensure_image(&BUILT, engine, BASE_IMAGE, build)
}

/// Builds `reference` in `engine` with `build` unless the engine already has it. `built`
/// remembers, within one test binary, which engines were settled, so later calls cost no engine
/// round trip.
pub(crate) fn ensure_image(
    built: &Mutex<BTreeSet<&'static str>>,
    engine: &TestEngine,
    reference: &str,
    build: fn(&TestEngine, &str),
) -> String {
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if !built.contains(engine.name) && !image_exists(engine, reference) {
        build(engine, reference);
    }
    built.insert(engine.name);
    reference.to_string()
}

fn image_exists(engine: &TestEngine, reference: &str) -> bool {
    engine
        .command("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", reference])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn build(engine: &TestEngine, reference: &str) {
    let dir = tempfile::tempdir().expect("temp dir for the rootfs");
    let root = busybox_rootfs(dir.path());
    import_base(engine, &root, reference);
}

/// A base of one test's own: [`BASE_IMAGE`]'s rootfs with a file that names it, so every layer
/// of an image built on it is new to every engine and registry, and is removed when the test
/// ends.
///
/// An engine remembers where it saw a layer across tests and runs, and Podman tries at most five
/// of those places, the most recently seen first (containers/image, `prioritize.go`). Every
/// Podman push of the shared base through the relay adds a place at the relay's address, so
/// whether a place that a test relies on made the five depended on the tests before it.
pub fn unique_base_on(engine: &TestEngine, prefix: &str) -> TempImage {
    let name = crate::unique(prefix);
    let reference = format!("slipway-test/{name}:1");
    let dir = tempfile::tempdir().expect("temp dir for the rootfs");
    let root = busybox_rootfs(dir.path());
    std::fs::write(root.join("etc/slipway-base"), format!("{name}\n")).unwrap();
    let image = TempImage::adopt_on(engine, reference.clone());
    import_base(engine, &root, &reference);
    image
}

fn import_base(engine: &TestEngine, root: &Path, reference: &str) {
    import_rootfs(
        engine,
        root,
        &["ENV PATH=/bin:/usr/bin", r#"CMD ["/bin/sh"]"#],
        "slipway offline test base (busybox-static)",
        reference,
    );
}

/// Writes the base's rootfs under `dir` and returns its folder.
fn busybox_rootfs(dir: &Path) -> std::path::PathBuf {
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} is missing: install Debian's busybox-static (apt-get install busybox-static)"
    );
    let root = dir.join("rootfs");
    for d in [
        "bin", "etc", "root", "tmp", "opt", "usr/bin", "var", "proc", "sys", "dev",
    ] {
        std::fs::create_dir_all(root.join(d)).expect("rootfs dir");
    }
    std::fs::copy(BUSYBOX, root.join("bin/busybox")).expect("copy busybox");
    let applets = crate::run(BUSYBOX, &["--list"]);
    for applet in applets
        .lines()
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "busybox")
    {
        symlink("busybox", root.join("bin").join(applet)).expect("applet link");
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    std::fs::write(root.join("etc/motd"), "Slipway test base image\n").unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "NAME=\"Slipway busybox\"\nID=slipway-busybox\n",
    )
    .unwrap();
    // /tmp must be world-writable with the sticky bit, as on any real distribution image.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    root
}

/// Tars a rootfs folder as root-owned files and imports it into `engine` as `reference`, with
/// Dockerfile-style `changes` (CMD, ENV, ...) applied to its config.
pub(crate) fn import_rootfs(
    engine: &TestEngine,
    root: &Path,
    changes: &[&str],
    message: &str,
    reference: &str,
) {
    let tarball = root.with_extension("tar");
    crate::run(
        "tar",
        &[
            "--numeric-owner",
            "--owner=0",
            "--group=0",
            "-C",
            root.to_str().unwrap(),
            "-cf",
            tarball.to_str().unwrap(),
            ".",
        ],
    );
    let mut args = vec!["import"];
    for change in changes {
        args.extend(["--change", change]);
    }
    args.extend(["--message", message, tarball.to_str().unwrap(), reference]);
    engine.docker(&args);
}
