//! An offline stand-in for the `registry:2` image, built from Debian's `docker-registry` binary.
//!
//! The managed local registry falls back to `registry:2` through the engine when the binary is not
//! installed. No image can be pulled on the machines that run these tests, so this builds one that
//! behaves the same way where it matters: the same program (distribution 2.x), the same config path,
//! listening on `:5000`, data in `/var/lib/registry`, deletes disabled unless the environment
//! (`REGISTRY_STORAGE_DELETE_ENABLED`) turns them on.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

use crate::TestEngine;

/// The reference of the offline `registry:2` stand-in.
pub const REGISTRY_IMAGE: &str = "slipway-test/registry:2";

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// The binary is a Go program linked dynamically against glibc only (checked with `ldd`): these
/// are the files it needs at run time, as (host path, path in the image).
const RUNTIME_FILES: &[(&str, &str)] = &[
    (REGISTRY_BIN, "bin/registry"),
    (
        "/lib/x86_64-linux-gnu/libc.so.6",
        "lib/x86_64-linux-gnu/libc.so.6",
    ),
    ("/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2"),
];

/// The upstream image's configuration, minus nothing that matters to Slipway: deletes stay off by
/// default, as upstream, so a test proves the environment override turns them on.
const CONFIG: &str = "version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
";

/// Makes sure [`REGISTRY_IMAGE`] exists in the engine and returns its reference.
pub fn registry_image() -> String {
    static BUILT: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    crate::base::ensure_image(&BUILT, &TestEngine::system(), REGISTRY_IMAGE, build)
}

fn build(engine: &TestEngine, reference: &str) {
    for (host, _) in RUNTIME_FILES {
        assert!(
            Path::new(host).exists(),
            "{host} is missing: the registry image is built from Debian's docker-registry (apt-get install docker-registry) on x86_64 glibc"
        );
    }
    let dir = tempfile::tempdir().expect("temp dir for the rootfs");
    let root = dir.path().join("rootfs");
    for d in ["etc/docker/registry", "var/lib/registry", "tmp"] {
        std::fs::create_dir_all(root.join(d)).expect("rootfs dir");
    }
    for (host, inside) in RUNTIME_FILES {
        let target = root.join(inside);
        std::fs::create_dir_all(target.parent().unwrap()).expect("rootfs dir");
        // `copy` follows the symlinks Debian uses for the loader, so the image gets real files.
        std::fs::copy(host, &target).unwrap_or_else(|e| panic!("copy {host}: {e}"));
    }
    std::fs::write(root.join("etc/docker/registry/config.yml"), CONFIG).unwrap();
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();

    crate::base::import_rootfs(
        engine,
        &root,
        &[
            "EXPOSE 5000",
            "VOLUME /var/lib/registry",
            r#"ENTRYPOINT ["/bin/registry","serve","/etc/docker/registry/config.yml"]"#,
        ],
        "slipway offline stand-in for registry:2 (Debian's docker-registry)",
        reference,
    );
}
