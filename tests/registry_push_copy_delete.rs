//! Push an engine image straight to a real registry (Debian's docker-registry), verify it
//! with skopeo and docker, re-push from the cache, push to a second registry, copy, delete, and
//! page through a catalog of more than 250 repositories.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use slipway_core::push::{How, PushEvent, PushOutcome, PushRequest, Route};
use slipway_core::registry::{self, DeleteScope, PlatformChoice, RegistryAccess};
use slipway_core::Slipway;
use slipway_oci::blobs::Mount;
use slipway_oci::manifests::DOCKER_MANIFEST;
use slipway_oci::Digest;
use slipway_tests::{
    anonymous_client, assert_runs_and_says, base_image, connect, derive_image, push_tiny_image,
    run, seed_repositories, Registry,
};

async fn push(
    slipway: &Slipway,
    image: &str,
    target: &str,
    cache: &std::path::Path,
) -> (PushOutcome, Vec<PushEvent>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let outcome = slipway
        .push(
            PushRequest {
                image: image.to_string(),
                target: target.to_string(),
                access: RegistryAccess {
                    anonymous: true,
                    ..Default::default()
                },
                level: None,
                cache_dir: Some(cache.to_path_buf()),
                // These scenarios are about the export route (compression, the cache, mounts);
                // the engine's own push is tests/push_through_the_engine.rs.
                route: Route::Export,
                ..Default::default()
            },
            Arc::new(move |e| sink.lock().unwrap().push(e)),
        )
        .await
        .unwrap_or_else(|e| panic!("push {image} -> {target} failed: {e}"));
    let events = events.lock().unwrap().clone();
    (outcome, events)
}

fn skopeo_digest(reference: &str) -> String {
    let out = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{reference}"),
        ],
    );
    Digest::sha256_of(out.as_bytes()).to_string()
}

fn anonymous() -> RegistryAccess {
    RegistryAccess {
        anonymous: true,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_push_verify_repush_copy_delete() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let reg = Registry::plain();
    let reg2 = Registry::plain();
    let target = format!("{}/issue3/base:1", reg.addr());

    // Cold push: every layer compressed and uploaded.
    let (first, events) = push(&slipway, &base, &target, cache.path()).await;
    assert!(first.compressed_layers >= 1, "{first:?}");
    assert!(first.uploaded_bytes > 0);
    assert!(events
        .iter()
        .any(|e| matches!(e, PushEvent::Compressing { .. })));
    assert!(events.iter().any(|e| matches!(e, PushEvent::Done { .. })));
    assert!(events
        .iter()
        .any(|e| matches!(e, PushEvent::Overall { .. })));
    assert_eq!(first.media_type, DOCKER_MANIFEST);

    // skopeo sees the same manifest digest.
    assert_eq!(
        skopeo_digest(&target),
        first.digest,
        "registry log: {}",
        reg.log()
    );

    // docker pulls it (it trusts 127.0.0.0/8 over HTTP) and runs it.
    run("docker", &["pull", "-q", &target]);
    assert_runs_and_says(&target, "pushed-by-slipway");

    // Re-push unchanged: nothing compressed, nothing uploaded, every layer found.
    let started = std::time::Instant::now();
    let (again, events) = push(&slipway, &base, &target, cache.path()).await;
    assert_eq!(again.digest, first.digest);
    assert_eq!(again.compressed_layers, 0);
    assert_eq!(again.uploaded_bytes, 0);
    assert!(
        again.layers.iter().all(|l| l.how == How::Exists),
        "{again:?}"
    );
    assert!(events.iter().any(|e| matches!(e, PushEvent::Exists { .. })));
    assert!(!events
        .iter()
        .any(|e| matches!(e, PushEvent::Compressing { .. })));
    eprintln!("re-push took {:?}", started.elapsed());

    // Another repository of the same registry: layers are mounted, not uploaded.
    let (mounted, events) = push(
        &slipway,
        &base,
        &format!("{}/issue3/other:1", reg.addr()),
        cache.path(),
    )
    .await;
    assert_eq!(mounted.digest, first.digest);
    assert!(
        mounted.layers.iter().all(|l| l.how == How::Mounted),
        "{mounted:?}"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, PushEvent::Mounted { .. })));

    // A second registry: the cache has the compressed bytes, so nothing is recompressed.
    let target2 = format!("{}/issue3/base:1", reg2.addr());
    let (second, events) = push(&slipway, &base, &target2, cache.path()).await;
    assert_eq!(second.digest, first.digest);
    assert_eq!(second.compressed_layers, 0);
    assert!(second.uploaded_bytes > 0);
    assert!(!events
        .iter()
        .any(|e| matches!(e, PushEvent::Compressing { .. })));
    assert_eq!(skopeo_digest(&target2), first.digest);

    // Copy between registries (streamed) and within one (mounted).
    let copied = registry::copy(
        &target,
        &format!("{}/copied/app:7", reg2.addr()),
        &anonymous(),
        &anonymous(),
        PlatformChoice::All,
        None,
    )
    .await
    .unwrap();
    assert_eq!(copied.digest, first.digest);
    assert_eq!(
        skopeo_digest(&format!("{}/copied/app:7", reg2.addr())),
        first.digest
    );
    let within = registry::copy(
        &target,
        &format!("{}/issue3/base:2", reg.addr()),
        &anonymous(),
        &anonymous(),
        PlatformChoice::All,
        None,
    )
    .await
    .unwrap();
    assert_eq!(within.digest, first.digest);
    assert_eq!(
        within.blobs_copied, 0,
        "same repository: every blob already there"
    );

    // Inspect shows layers, sizes, platform and history.
    let inspected = registry::inspect(&target, &anonymous(), None)
        .await
        .unwrap();
    assert_eq!(inspected.digest, first.digest);
    assert_eq!(inspected.layers.len(), first.layers.len());
    assert_eq!(inspected.platform.as_deref(), Some("linux/amd64"));
    assert!(inspected.total_size > 0);

    // Delete the manifest of tag 1 with all its tags: tag 2 shares the digest and is named in
    // the plan; the manifest is gone.
    let deleted = registry::delete(&target, &anonymous(), DeleteScope::Manifest)
        .await
        .unwrap();
    assert_eq!(
        deleted.deleted_manifests().collect::<Vec<_>>(),
        [first.digest.as_str()]
    );
    let mut tags = deleted.tags.clone();
    tags.sort();
    assert_eq!(tags, vec!["1".to_string(), "2".to_string()]);
    let gone = std::process::Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{target}"),
        ])
        .output()
        .unwrap();
    assert!(
        !gone.status.success(),
        "the manifest is still there after delete"
    );
    let err = registry::inspect(&target, &anonymous(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found", "{err}");

    // The probe sees a plain-HTTP registry with catalog and deletes.
    let caps = registry::probe(&reg.addr(), &anonymous()).await.unwrap();
    assert_eq!(caps.scheme, "http");
    assert_eq!(caps.catalog, Some(true));
    assert_eq!(caps.delete, Some(true));
}

/// A mount from a repository that lacks the blob is no error, and leaves no session open on the
/// registry: the registry opens an upload instead, as the spec allows, and the client, which
/// uploads in a session of its own later, cancels it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mount_the_registry_cannot_do_leaves_no_upload_session_open() {
    let reg = Registry::plain();
    let client = anonymous_client(&reg.addr());
    let digest = Digest::sha256_of(b"a blob no repository holds");
    let mount = client
        .mount_blob("mounts/target", &digest, "mounts/elsewhere")
        .await
        .unwrap();
    assert_eq!(mount, Mount::NotMounted);
    // An open session is a folder with `startedat` and `data`; a cancelled one keeps only its
    // empty `hashstates` in docker-registry 2.8.
    let uploads = reg
        .storage()
        .join("docker/registry/v2/repositories/mounts/target/_uploads");
    let open: Vec<_> = std::fs::read_dir(&uploads)
        .map(|dir| {
            dir.flatten()
                .filter(|session| session.path().join("startedat").exists())
                .map(|session| session.file_name())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        open.is_empty(),
        "sessions left open in {}: {open:?}",
        uploads.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_and_tags_page_through_more_than_250_repositories() {
    let reg = Registry::plain();
    let client = anonymous_client(&reg.addr());
    // One tiny image; every other repository gets it by mount, so creating hundreds is cheap.
    let tiny = push_tiny_image(&client, "pages/seed", "v1").await;
    let expected = seed_repositories(&client, &tiny, "pages/seed", "pages/r", 260).await;
    for t in 0..30 {
        client
            .put_manifest(
                "pages/r000",
                &format!("t{t:02}"),
                DOCKER_MANIFEST,
                tiny.manifest.clone(),
            )
            .await
            .unwrap();
    }

    // Small pages: the Link header is followed until the end.
    let mut paged = Vec::new();
    let mut page = client.catalog_page(Some(100), None, None).await.unwrap();
    let mut pages = 1;
    loop {
        paged.append(&mut page.items);
        let Some(next) = page.next.take() else { break };
        page = client.catalog_page(None, None, Some(&next)).await.unwrap();
        pages += 1;
    }
    assert!(
        pages >= 3,
        "260 repositories in pages of 100 take 3 pages, got {pages}"
    );
    paged.retain(|r| r.starts_with("pages/r"));
    assert_eq!(paged, expected);

    let all = registry::catalog(&reg.addr(), &anonymous()).await.unwrap();
    assert_eq!(all.iter().filter(|r| r.starts_with("pages/r")).count(), 260);

    let mut tag_pages = 0;
    let mut tags = Vec::new();
    let mut page = client
        .tags_page("pages/r000", Some(7), None, None)
        .await
        .unwrap();
    loop {
        tag_pages += 1;
        tags.append(&mut page.items);
        let Some(next) = page.next.take() else { break };
        page = client
            .tags_page("pages/r000", None, None, Some(&next))
            .await
            .unwrap();
    }
    // docker-registry 2.8 ignores `n` for tags (pagination of tags came with distribution 3), so
    // it may answer in one page; when it does page, every page is followed. The fake registry in
    // push_survives_faults checks tag paging with a Link header.
    assert!(tag_pages >= 1);
    assert_eq!(tags.len(), 31);
    let all_tags = registry::tags(&format!("{}/pages/r000", reg.addr()), &anonymous())
        .await
        .unwrap();
    assert_eq!(all_tags.len(), 31);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_push_uses_oci_media_types_and_decompresses() {
    use slipway_core::push::Compression;
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let reg = Registry::plain();
    let target = format!("{}/issue3/zstd:1", reg.addr());
    let outcome = slipway
        .push(
            PushRequest {
                image: base.clone(),
                target: target.clone(),
                access: anonymous(),
                cache_dir: Some(cache.path().to_path_buf()),
                compression: Compression::Zstd,
                ..Default::default()
            },
            Arc::new(|_| {}),
        )
        .await
        .unwrap();
    assert_eq!(outcome.media_type, slipway_oci::manifests::OCI_MANIFEST);
    assert_eq!(skopeo_digest(&target), outcome.digest);
    let raw = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{target}"),
        ],
    );
    let manifest: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let layer = &manifest["layers"][0];
    assert_eq!(layer["mediaType"], slipway_oci::manifests::OCI_LAYER_ZSTD);

    // The layer decompresses (all frames) to a tar whose sha256 is the image's diff_id.
    let client = anonymous_client(&reg.addr());
    let digest = Digest::parse(layer["digest"].as_str().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("layer.zst");
    client
        .download_blob("issue3/zstd", &digest, &blob)
        .await
        .unwrap();
    // zstd frames concatenate like gzip members; the decoder reads them all.
    let compressed = std::fs::read(&blob).unwrap();
    let tar = zstd::stream::decode_all(&compressed[..]).unwrap();
    let config = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--config",
            &format!("docker://{target}"),
        ],
    );
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    let diff_id = config["rootfs"]["diff_ids"][0]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    assert_eq!(Digest::sha256_of(&tar).hex(), diff_id);
}

/// A registry reached by a name that is not `localhost`/127.x speaks HTTP only: without
/// `--insecure` that is an error saying what to do; with it, plain HTTP is used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_only_registry_needs_insecure() {
    let reg = Registry::plain();
    // This machine's own host name resolves to loopback (Debian puts it in /etc/hosts), yet is
    // not a loopback name, so it stands for "a registry on host:5000".
    let host = run("hostname", &[]).trim().to_string();
    let resolves_to_loopback =
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), reg.port()))
            .map(|mut addrs| addrs.any(|a| a.ip().is_loopback()))
            .unwrap_or(false);
    if host.is_empty() || !resolves_to_loopback || slipway_oci::reference::host_is_loopback(&host) {
        eprintln!("skipped: host name {host:?} does not resolve to loopback here");
        return;
    }
    let addr = format!("{host}:{}", reg.port());
    let err = registry::probe(&addr, &anonymous()).await.unwrap_err();
    assert_eq!(err.code(), "registry_http_only", "{err}");
    // The message says what is wrong; which flag or control fixes it is each front end's hint.
    assert!(err.to_string().contains("plain HTTP"), "{err}");
    assert!(!err.to_string().contains("--"), "{err}");
    let insecure = RegistryAccess {
        insecure: true,
        ..anonymous()
    };
    let caps = registry::probe(&addr, &insecure).await.unwrap();
    assert_eq!(caps.scheme, "http");
}

/// An index with two platforms: inspect picks the platform asked for, and copy takes all
/// platforms or only the chosen ones (then the copied index lists just those).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_platform_choice_for_inspect_and_copy() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let reg = Registry::plain();
    let (pushed, _) = push(
        &slipway,
        &base,
        &format!("{}/multi/app:amd64", reg.addr()),
        cache.path(),
    )
    .await;
    let client = anonymous_client(&reg.addr());
    let image = client
        .get_manifest("multi/app", &pushed.digest)
        .await
        .unwrap();
    // A second "platform" that is the same image under another name is enough to exercise the
    // choice: the registry does not check that the bytes match the platform.
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": slipway_oci::manifests::OCI_INDEX,
        "manifests": [
            {"mediaType": image.media_type, "digest": pushed.digest, "size": image.bytes.len(),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": image.media_type, "digest": pushed.digest, "size": image.bytes.len(),
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
        ]
    });
    let index_bytes = Bytes::from(serde_json::to_vec(&index).unwrap());
    client
        .put_manifest(
            "multi/app",
            "multi",
            slipway_oci::manifests::OCI_INDEX,
            index_bytes,
        )
        .await
        .unwrap();
    let source = format!("{}/multi/app:multi", reg.addr());

    let shown = registry::inspect(&source, &anonymous(), Some("linux/arm64"))
        .await
        .unwrap();
    assert_eq!(
        shown.platforms,
        vec!["linux/amd64".to_string(), "linux/arm64/v8".to_string()]
    );
    assert_eq!(shown.layers.len(), pushed.layers.len());
    let err = registry::inspect(&source, &anonymous(), Some("windows/amd64"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "no_such_platform", "{err}");
    assert!(err.to_string().contains("linux/arm64/v8"), "{err}");

    let reg2 = Registry::plain();
    let all = registry::copy(
        &source,
        &format!("{}/multi/all:1", reg2.addr()),
        &anonymous(),
        &anonymous(),
        PlatformChoice::All,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        all.digest,
        Digest::sha256_of(&serde_json::to_vec(&index).unwrap()).to_string()
    );
    let one = registry::copy(
        &source,
        &format!("{}/multi/one:1", reg2.addr()),
        &anonymous(),
        &anonymous(),
        PlatformChoice::Only(vec!["linux/arm64".to_string()]),
        None,
    )
    .await
    .unwrap();
    let copied = registry::inspect(
        &format!("{}/multi/one:1", reg2.addr()),
        &anonymous(),
        Some("linux/arm64"),
    )
    .await
    .unwrap();
    assert_eq!(copied.platforms, vec!["linux/arm64/v8".to_string()]);
    assert_eq!(copied.digest, one.digest);
    let raw = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{}/multi/one:1", reg2.addr()),
        ],
    );
    assert_eq!(Digest::sha256_of(raw.as_bytes()).to_string(), one.digest);
}

/// An image built on an already pushed base: only its new layer is compressed; the base layer is
/// recognised by the cache while the export streams past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_of_a_derived_image_compresses_only_the_new_layer() {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let reg = Registry::plain();
    let derived = derive_image("issue3-derived", "echo derived > /derived.txt");

    let (first, _) = push(
        &slipway,
        &base,
        &format!("{}/derived/base:1", reg.addr()),
        cache.path(),
    )
    .await;
    let (second, events) = push(
        &slipway,
        &derived.0,
        &format!("{}/derived/app:1", reg.addr()),
        cache.path(),
    )
    .await;
    drop(derived);
    assert_eq!(second.layers.len(), first.layers.len() + 1);
    assert_eq!(second.compressed_layers, 1, "{second:?}");
    assert_eq!(second.layers[0].how, How::Mounted, "{second:?}");
    assert_eq!(second.layers[0].digest, first.layers[0].digest);
    // The one compressed layer shows on its own row from its first byte: the row is guessed
    // before the hash is known (by name, or by size for an unnamed layer.tar) and here the
    // guess is right, so no placeholder row and no Identified move are needed.
    let compressing: std::collections::HashSet<&String> = events
        .iter()
        .filter_map(|e| match e {
            PushEvent::Compressing { blob, .. } => Some(blob),
            _ => None,
        })
        .collect();
    let new_layer = &second.layers.last().unwrap().diff_id;
    assert_eq!(compressing, [new_layer].into_iter().collect(), "{events:?}");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, PushEvent::Identified { .. })),
        "{events:?}"
    );
    let raw = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{}/derived/app:1", reg.addr()),
        ],
    );
    assert_eq!(Digest::sha256_of(raw.as_bytes()).to_string(), second.digest);
}
