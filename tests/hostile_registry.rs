//! A hostile or broken registry cannot hang Slipway, fill its memory, crash it, or make it load
//! unverified data: every fault a real registry never produces is played by the fake in
//! `harness/hostile.rs`, and each test checks what the user sees — an error that names the cause,
//! within seconds.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use slipway_oci::blobs::Mount;
use slipway_oci::{
    BlobSource, Client, ClientOptions, CredentialSource, CredentialStore, Credentials, Digest,
    RetryPolicy, Timeouts,
};
use slipway_tests::{
    anonymous_fetch, connect, unique, Hostile, Misbehaviour, TempImage, TEST_PASSWORD, TEST_USER,
};

/// A silence limit short enough that a stall test ends in seconds.
const SILENCE: Duration = Duration::from_secs(1);

fn options() -> ClientOptions {
    ClientOptions {
        credentials: CredentialSource::Explicit(Credentials::new(TEST_USER, TEST_PASSWORD)),
        retry: RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
        },
        timeouts: Timeouts::from_read(SILENCE),
        ..Default::default()
    }
}

fn client(fake: &Hostile) -> Client {
    Client::new(&fake.addr(), options()).unwrap()
}

/// Runs `work` and fails the test if it has not ended after `limit`: what "nothing hangs" means.
async fn within<T>(limit: Duration, work: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| panic!("still running after {limit:?}"));
    eprintln!("ended after {:?}", started.elapsed());
    out
}

// Bounds: nothing grows without limit.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_manifest_is_refused_at_four_mib() {
    let fake = Hostile::plain(Misbehaviour::EndlessManifest).await;
    let err = within(
        Duration::from_secs(20),
        client(&fake).get_manifest("app", "1"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "registry_response_too_large", "{err}");
    assert!(err.to_string().contains("a manifest"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_config_blob_is_refused_at_four_mib() {
    let fake = Hostile::plain(Misbehaviour::EndlessBlob).await;
    let digest = Digest::sha256_of(b"{}");
    let err = within(
        Duration::from_secs(20),
        client(&fake).get_blob("app", &digest, None),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "registry_response_too_large", "{err}");
    // With the descriptor's size the read stops at that size.
    let err = within(
        Duration::from_secs(20),
        client(&fake).get_blob("app", &digest, Some(2)),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "size_mismatch", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_error_body_still_gives_the_status_error() {
    let fake = Hostile::plain(Misbehaviour::EndlessErrorBody).await;
    let err = within(
        Duration::from_secs(20),
        client(&fake).get_manifest("app", "1"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "registry_unexpected_status", "{err}");
    assert!(err.to_string().contains("400"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_token_reply_is_refused_at_one_mib() {
    let fake = Hostile::plain(Misbehaviour::EndlessToken).await;
    let err = within(
        Duration::from_secs(20),
        client(&fake).get_manifest("app", "1"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "registry_response_too_large", "{err}");
    assert!(err.to_string().contains("token"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_tag_page_is_refused() {
    let fake = Hostile::plain(Misbehaviour::EndlessTagPage).await;
    let err = within(Duration::from_secs(20), client(&fake).tags("app"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "registry_response_too_large", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_referencing_link_ends_with_a_clear_error() {
    let fake = Hostile::plain(Misbehaviour::SelfLink).await;
    let err = within(Duration::from_secs(20), client(&fake).tags("app"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "registry_endless_pages", "{err}");
    assert!(err.to_string().contains("came twice"), "{err}");
    assert!(fake.seen().len() < 10, "{} requests", fake.seen().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_that_never_end_stop_at_the_page_cap() {
    let fake = Hostile::plain(Misbehaviour::EndlessLinks).await;
    let err = within(Duration::from_secs(60), client(&fake).tags("app"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "registry_endless_pages", "{err}");
    assert!(err.to_string().contains("more than 1000 pages"), "{err}");
}

// Hangs: every wait ends.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_stops_answering_ends_within_the_timeout() {
    let fake = Hostile::plain(Misbehaviour::StallManifest).await;
    let err = within(
        Duration::from_secs(15),
        client(&fake).get_manifest("app", "1"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "registry_timeout", "{err}");
    assert!(
        err.to_string().contains("SLIPWAY_REGISTRY_TIMEOUT"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_server_that_stops_answering_ends_within_the_timeout() {
    let fake = Hostile::plain(Misbehaviour::StallToken).await;
    let err = within(
        Duration::from_secs(15),
        client(&fake).get_manifest("app", "1"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "registry_timeout", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_that_stalls_midway_ends_within_the_timeout() {
    let fake = Hostile::plain(Misbehaviour::StallBlobMidway).await;
    let digest = Digest::sha256_of(b"never all of it");
    let outcome = within(Duration::from_secs(15), async {
        let mut stream = client(&fake).blob_stream("app", &digest, None).await?;
        while let Some(chunk) = stream.next().await {
            chunk?;
        }
        Ok::<_, slipway_oci::Error>(())
    })
    .await;
    let err = outcome.unwrap_err();
    assert_eq!(err.code(), "registry_timeout", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_the_registry_stops_reading_ends_within_the_timeout() {
    let fake = Hostile::plain(Misbehaviour::StallUpload).await;
    // More than a monolithic upload and more than the socket buffers hold: a chunked PATCH.
    let data = Bytes::from(vec![7u8; 20 << 20]);
    let err = within(
        Duration::from_secs(30),
        client(&fake).push_blob(
            "app",
            &Digest::sha256_of(&data),
            data.len() as u64,
            BlobSource::Bytes(data.clone()),
            None,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "registry_timeout", "{err}");
}

/// A credential helper stuck on a prompt nobody sees is stopped, and while it runs the async
/// worker it was asked from keeps serving other work (the window's other commands).
#[cfg(unix)]
#[tokio::test(flavor = "current_thread")]
async fn a_stuck_credential_helper_is_stopped_and_blocks_no_worker() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let helper = dir.path().join("docker-credential-stuck");
    std::fs::write(&helper, "#!/bin/sh\nexec sleep 600\n").unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, r#"{"credsStore":"stuck"}"#).unwrap();
    let store = CredentialStore::at(&config)
        .with_credential_program_dir(dir.path())
        .with_helper_timeout(Duration::from_secs(2));

    let fake = Hostile::plain(Misbehaviour::Honest).await;
    let c = Client::new(
        &fake.addr(),
        ClientOptions {
            credentials: CredentialSource::Store(store),
            ..options()
        },
    )
    .unwrap();
    // A ticker on the same (only) worker thread: it advances only if the helper does not block it.
    let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = ticks.clone();
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let err = within(Duration::from_secs(15), c.tags("app"))
        .await
        .unwrap_err();
    ticker.abort();
    assert_eq!(err.code(), "credentials_error", "{err}");
    assert!(
        err.to_string().contains("did not answer within 2 s"),
        "{err}"
    );
    let ticked = ticks.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        ticked >= 10,
        "the worker was blocked: {ticked} ticks in 2 s"
    );
}

// Hostile values: no panic, no endless loop.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_never_expires_does_not_crash_the_client() {
    let fake = Hostile::plain(Misbehaviour::TokenLifetime(u64::MAX)).await;
    let tags = within(Duration::from_secs(15), client(&fake).tags("app"))
        .await
        .unwrap();
    assert_eq!(tags, vec!["b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_offset_that_never_advances_ends_with_an_error() {
    let fake = Hostile::plain(Misbehaviour::RangeStuck).await;
    let data = Bytes::from(vec![1u8; 9 << 20]);
    let err = within(
        Duration::from_secs(30),
        client(&fake).push_blob(
            "app",
            &Digest::sha256_of(&data),
            data.len() as u64,
            BlobSource::Bytes(data.clone()),
            None,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "registry_protocol_error", "{err}");
    assert!(err.to_string().contains("no progress"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflowing_upload_range_ends_with_an_error() {
    let fake = Hostile::plain(Misbehaviour::RangeOverflow).await;
    let data = Bytes::from(vec![1u8; 9 << 20]);
    let err = within(
        Duration::from_secs(30),
        client(&fake).push_blob(
            "app",
            &Digest::sha256_of(&data),
            data.len() as u64,
            BlobSource::Bytes(data.clone()),
            None,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "registry_protocol_error", "{err}");
    assert!(err.to_string().contains("Range"), "{err}");
}

// Verification: content asked for by digest is that content.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_pinned_by_sha512_is_verified_with_sha512() {
    let genuine = Bytes::from_static(br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#);
    let forged = Bytes::from(
        String::from_utf8(genuine.to_vec())
            .unwrap()
            .replace("\"size\":2", "\"size\":3"),
    );
    let pinned = Digest::of(slipway_oci::reference::DigestAlgorithm::Sha512, &genuine);
    let media = "application/vnd.oci.image.manifest.v1+json".to_string();
    let serve = |bytes: Bytes| Misbehaviour::Serve {
        manifests: HashMap::from([(pinned.to_string(), (media.clone(), bytes))]),
        blobs: HashMap::new(),
    };
    let honest = Hostile::plain(serve(genuine.clone())).await;
    let got = client(&honest)
        .get_manifest("app", &pinned.to_string())
        .await
        .unwrap();
    assert_eq!(got.bytes, genuine);
    let lying = Hostile::plain(serve(forged)).await;
    let err = client(&lying)
        .get_manifest("app", &pinned.to_string())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "digest_mismatch", "{err}");
}

// Lost answers: what was done is reported as done.

/// A mount is only a shortcut: one the registry refuses leaves the caller to upload the blob,
/// instead of failing the push. The relay tries the places an engine remembers, which may be
/// repositories of another registry, or ones these credentials may not read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mount_the_registry_refuses_is_no_error_but_not_mounted() {
    let fake = Hostile::plain(Misbehaviour::MountDenied).await;
    let digest = Digest::sha256_of(b"x");
    let mount = within(
        Duration::from_secs(20),
        client(&fake).mount_blob("app", &digest, "elsewhere"),
    )
    .await
    .unwrap();
    assert_eq!(mount, Mount::NotMounted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_whose_answer_was_lost_is_reported_done() {
    let fake = Hostile::plain(Misbehaviour::LoseDeleteAnswer).await;
    let digest = Digest::sha256_of(b"a manifest");
    within(
        Duration::from_secs(15),
        client(&fake).delete_manifest("app", &digest),
    )
    .await
    .unwrap();
    let deletes = fake
        .seen()
        .iter()
        .filter(|s| s.method == axum::http::Method::DELETE)
        .count();
    assert_eq!(deletes, 2, "sent, lost, sent again: {:?}", fake.seen());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_upload_whose_answer_was_lost_is_reported_done() {
    let fake = Hostile::plain(Misbehaviour::LosePutAnswer).await;
    let data = Bytes::from_static(b"a small blob");
    let pushed = within(
        Duration::from_secs(15),
        client(&fake).push_blob(
            "app",
            &Digest::sha256_of(&data),
            data.len() as u64,
            BlobSource::Bytes(data.clone()),
            None,
        ),
    )
    .await;
    assert!(pushed.unwrap(), "reported as uploaded");
}

// Nothing unverified reaches the engine.

/// A blob stream never yields a byte beyond the descriptor's size: the chunk that crosses it ends
/// the stream with the error, whatever follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_longer_than_its_descriptor_yields_nothing_beyond_it() {
    let declared = vec![b'x'; 512];
    let digest = Digest::sha256_of(&declared);
    let mut served = declared.clone();
    served.extend_from_slice(&[b'!'; 4096]);
    let fake = Hostile::plain(Misbehaviour::Serve {
        manifests: HashMap::new(),
        blobs: HashMap::from([(digest.to_string(), Bytes::from(served))]),
    })
    .await;
    let (yielded, outcome) = within(Duration::from_secs(20), async {
        let mut stream = client(&fake).blob_stream("app", &digest, Some(512)).await?;
        let mut yielded = 0usize;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => yielded += chunk.len(),
                Err(e) => return Ok::<_, slipway_oci::Error>((yielded, Err(e))),
            }
        }
        Ok((yielded, Ok(())))
    })
    .await
    .unwrap();
    assert!(
        yielded <= 512,
        "{yielded} bytes passed on for a 512-byte blob"
    );
    let err = outcome.unwrap_err();
    assert_eq!(err.code(), "size_mismatch", "{err}");
}

fn tar_entry(archive: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
    let mut header = tar::Header::new_ustar();
    header.set_path(path).unwrap();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    archive.append(&header, data).unwrap();
}

/// A registry sends a layer's declared bytes and then, in the same body, tar entries of its own:
/// a config, a layer and a `manifest.json` that tags an image of its choosing, and the end of the
/// archive. Fetch streams layers into `docker load`; the engine must never see those entries.
/// (Docker 20.10 reads the whole request before it loads, so on it this also held before the
/// fix; an engine that loads at the end-of-archive marker would be poisoned. The stream-level
/// guarantee is `a_blob_longer_than_its_descriptor_yields_nothing_beyond_it`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_longer_than_its_descriptor_never_reaches_the_engine() {
    use serde_json::json;
    let poison = format!("slipway-test/{}:latest", unique("poisoned"));
    let _poison = TempImage::adopt(poison.clone());
    let empty_layer = vec![0u8; 1024];
    let evil_config = json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [Digest::sha256_of(&empty_layer).to_string()]},
    })
    .to_string();
    let mut appended = tar::Builder::new(Vec::new());
    tar_entry(&mut appended, "evil.json", evil_config.as_bytes());
    tar_entry(&mut appended, "evil/layer.tar", &empty_layer);
    let evil_manifest =
        json!([{"Config": "evil.json", "RepoTags": [poison], "Layers": ["evil/layer.tar"]}]);
    tar_entry(
        &mut appended,
        "manifest.json",
        evil_manifest.to_string().as_bytes(),
    );
    let appended = appended.into_inner().unwrap();

    // The declared layer is one tar block, so the appended entries start on a block boundary.
    let declared = vec![b'x'; 512];
    let layer_digest = Digest::sha256_of(&declared);
    let mut served = declared.clone();
    served.extend_from_slice(&appended);
    let config = json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest.to_string()]},
    })
    .to_string();
    let config_digest = Digest::sha256_of(config.as_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": config.len(), "digest": config_digest.to_string()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": declared.len(), "digest": layer_digest.to_string()}],
    })
    .to_string();
    let fake = Hostile::plain(Misbehaviour::Serve {
        manifests: HashMap::from([(
            "1".to_string(),
            (
                "application/vnd.docker.distribution.manifest.v2+json".to_string(),
                Bytes::from(manifest),
            ),
        )]),
        blobs: HashMap::from([
            (config_digest.to_string(), Bytes::from(config)),
            (layer_digest.to_string(), Bytes::from(served)),
        ]),
    })
    .await;
    let reference = format!("{}/app:1", fake.addr());
    let _fetched = TempImage::adopt(reference.clone());

    let data = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let cache = tempfile::tempdir().unwrap();
    let err = within(
        Duration::from_secs(60),
        slipway.fetch(
            anonymous_fetch(&reference, cache.path()),
            std::sync::Arc::new(|_| {}),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "size_mismatch", "{err}");
    let poisoned = std::process::Command::new("docker")
        .args(["image", "inspect", &poison])
        .output()
        .unwrap();
    assert!(
        !poisoned.status.success(),
        "the registry's own manifest.json reached the engine and tagged {poison}"
    );
}
