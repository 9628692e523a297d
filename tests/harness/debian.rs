//! A Debian base image made here, without a registry: `debootstrap --variant=minbase bookworm`
//! from the machine's own apt mirror, imported with `CMD ["/bin/bash"]`. Its apt-get reaches the
//! same mirror from inside the container, so the workshop can install real packages.
//!
//! debootstrap takes minutes, so the rootfs tarball is cached under
//! `~/.cache/slipway/debian` and built once per machine; each engine imports it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::base::ensure_image;
use crate::TestEngine;

/// The reference of the Debian base image.
pub const DEBIAN_IMAGE: &str = "slipway-test/debian:bookworm";

const SUITE: &str = "bookworm";

/// Makes sure [`DEBIAN_IMAGE`] exists in the system engine and returns its reference.
pub fn debian_image() -> String {
    debian_image_on(&TestEngine::system())
}

/// [`debian_image`] in `engine`.
pub fn debian_image_on(engine: &TestEngine) -> String {
    static BUILT: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    ensure_image(&BUILT, engine, DEBIAN_IMAGE, import)
}

fn import(engine: &TestEngine, reference: &str) {
    let tarball = rootfs_tarball();
    engine.docker(&[
        "import",
        "--change",
        r#"CMD ["/bin/bash"]"#,
        "--message",
        "slipway test base (debootstrap --variant=minbase bookworm)",
        tarball.to_str().unwrap(),
        reference,
    ]);
}

/// The cached rootfs tarball, made with debootstrap when it is missing.
fn rootfs_tarball() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let cache = Path::new(&home).join(".cache/slipway/debian");
    let tarball = cache.join(format!("{SUITE}-minbase.tar"));
    if tarball.exists() {
        return tarball;
    }
    std::fs::create_dir_all(&cache).expect("the debian cache dir");
    assert!(
        Path::new("/usr/sbin/debootstrap").exists(),
        "debootstrap is missing: apt-get install debootstrap (./dev test installs it)"
    );
    let mirror = apt_mirror().unwrap_or_else(|| {
        panic!("no apt source for Debian {SUITE} in /etc/apt/sources.list(.d); debootstrap needs a mirror")
    });
    let root = tempfile::tempdir_in(&cache).expect("a temp dir for the rootfs");
    crate::run(
        "debootstrap",
        &[
            "--variant=minbase",
            SUITE,
            root.path().to_str().unwrap(),
            &mirror,
        ],
    );
    // Written aside and renamed, so a run that stops half-way leaves no broken cache.
    let part = cache.join(format!(".{SUITE}-minbase.tar.{}", std::process::id()));
    crate::run(
        "tar",
        &[
            "--numeric-owner",
            "-C",
            root.path().to_str().unwrap(),
            "-cf",
            part.to_str().unwrap(),
            ".",
        ],
    );
    std::fs::rename(&part, &tarball).expect("the cached rootfs tarball");
    tarball
}

/// The first apt source of this machine that serves the Debian suite, in either format
/// (`sources.list` lines or deb822 `.sources` stanzas): the mirror the machine already uses.
fn apt_mirror() -> Option<String> {
    let mut texts = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.push((false, text));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir("/etc/apt/sources.list.d")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for path in files {
        let deb822 = path.extension().is_some_and(|e| e == "sources");
        let list = path.extension().is_some_and(|e| e == "list");
        if deb822 || list {
            if let Ok(text) = std::fs::read_to_string(&path) {
                texts.push((deb822, text));
            }
        }
    }
    texts.into_iter().find_map(|(deb822, text)| {
        if deb822 {
            mirror_in_deb822(&text)
        } else {
            mirror_in_list(&text)
        }
    })
}

fn mirror_in_list(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace().filter(|w| !w.starts_with('['));
        if words.next()? != "deb" {
            return None;
        }
        let uri = words.next()?;
        (words.next()? == SUITE).then(|| uri.to_string())
    })
}

fn mirror_in_deb822(text: &str) -> Option<String> {
    text.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim().eq_ignore_ascii_case(name)).then(|| value.trim().to_string())
            })
        };
        let enabled = field("Enabled").is_none_or(|v| v != "no");
        let deb = field("Types")?.split_whitespace().any(|t| t == "deb");
        let suite = field("Suites")?.split_whitespace().any(|s| s == SUITE);
        let uri = field("URIs")?.split_whitespace().next()?.to_string();
        (enabled && deb && suite).then_some(uri)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mirror_is_read_from_either_format() {
        let deb822 = "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n\
                      Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n";
        assert_eq!(
            mirror_in_deb822(deb822).as_deref(),
            Some("http://mirror.example/debian")
        );
        let list = "# deb http://old.example/debian bookworm main\n\
                    deb [arch=amd64] http://mirror.example/debian bookworm main\n";
        assert_eq!(
            mirror_in_list(list).as_deref(),
            Some("http://mirror.example/debian")
        );
    }
}
