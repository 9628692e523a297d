//! Registry housekeeping against the real reference registry: delete one tag and keep the others
//! on its digest, bulk plans that delete exactly what they list, tag orders, the space ledger
//! checked against what garbage collection removes from the managed registry's disk.

use bytes::Bytes;
use slipway_core::local_registry::{LocalRegistry, LocalRegistryOptions};
use slipway_core::registry::{self, DeleteScope, RegistryAccess, Selection, TagSort};
use slipway_core::registry_gc::{self, GcReport};
use slipway_oci::{BlobSource, Client, Digest};
use slipway_tests::{
    anonymous_client, base_image, derive_image, free_port, push_tiny_image, registry_image, run,
    seed_repositories, unique, Registry, RegistryConfig, TempContainer,
};

fn anonymous() -> RegistryAccess {
    RegistryAccess {
        anonymous: true,
        ..Default::default()
    }
}

fn skopeo_digest(reference: &str) -> Option<String> {
    let out = std::process::Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--format",
            "{{.Digest}}",
            &format!("docker://{reference}"),
        ])
        .output()
        .expect("skopeo runs");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A tiny image of its own (its config carries `created`, so each has its own digest) tagged
/// `tag` in `repo`.
async fn push_dated(client: &Client, repo: &str, tag: &str, created: &str) -> String {
    let config = Bytes::from(format!(
        r#"{{"architecture":"amd64","os":"linux","created":"{created}","rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    ));
    let config_digest = Digest::sha256_of(&config);
    client
        .push_blob(
            repo,
            &config_digest,
            config.len() as u64,
            BlobSource::Bytes(config.clone()),
            None,
        )
        .await
        .expect("upload a config");
    let manifest = Bytes::from(format!(
        r#"{{"schemaVersion":2,"mediaType":"{m}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"{config_digest}"}},"layers":[]}}"#,
        config.len(),
        m = slipway_oci::manifests::DOCKER_MANIFEST,
    ));
    client
        .put_manifest(repo, tag, slipway_oci::manifests::DOCKER_MANIFEST, manifest)
        .await
        .expect("put a manifest")
        .to_string()
}

fn docker_push(image: &str, target: &str) {
    run("docker", &["tag", image, target]);
    run("docker", &["push", "-q", target]);
    run("docker", &["rmi", target]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_one_tag_keeps_the_other_tag_on_its_digest() {
    let reg = Registry::plain();
    let (one, two) = (
        format!("{}/keep/app:1", reg.addr()),
        format!("{}/keep/app:2", reg.addr()),
    );
    docker_push(&base_image(), &one);
    docker_push(&base_image(), &two);
    let digest = skopeo_digest(&two).expect("tag 2 exists");
    assert_eq!(skopeo_digest(&one).as_deref(), Some(digest.as_str()));

    let plan = registry::delete_plan(&one, &anonymous(), DeleteScope::Tag)
        .await
        .unwrap();
    assert_eq!(plan.tags, ["1"]);
    assert_eq!(plan.kept, ["2"]);
    assert_eq!(plan.manifests[0].stay, ["2"]);
    assert_eq!(plan.deleted_manifests().count(), 0);
    assert_eq!(plan.frees, 0, "tag 2 still holds every blob");

    registry::execute(&plan, &anonymous()).await.unwrap();
    assert_eq!(skopeo_digest(&one), None, "tag 1 is gone");
    assert_eq!(
        skopeo_digest(&two).as_deref(),
        Some(digest.as_str()),
        "tag 2 still resolves to the same digest; registry log: {}",
        reg.log()
    );
    let tags = registry::tags(&format!("{}/keep/app", reg.addr()), &anonymous())
        .await
        .unwrap();
    assert_eq!(tags, ["2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_sort_by_date_version_and_name_a_page_at_a_time() {
    let reg = Registry::plain();
    let client = anonymous_client(&reg.addr());
    let repo = "sorted/app";
    for (tag, created) in [
        ("1.9", "2024-03-01T00:00:00Z"),
        ("1.10", "2024-02-01T00:00:00Z"),
        ("2.0-rc1", "2024-05-01T00:00:00.5Z"),
        ("latest", "2024-05-01T00:00:01Z"),
        ("2024-01-15", "2024-01-15T00:00:00Z"),
    ] {
        push_dated(&client, repo, tag, created).await;
    }
    let repository = format!("{}/{repo}", reg.addr());
    let order = |page: &registry::TagPage| -> Vec<String> {
        page.rows.iter().map(|r| r.tag.clone()).collect()
    };
    let by_date = registry::tag_page(&repository, &anonymous(), TagSort::Date, 0, 100)
        .await
        .unwrap();
    assert_eq!(
        order(&by_date),
        ["latest", "2.0-rc1", "1.9", "1.10", "2024-01-15"]
    );
    assert!(by_date
        .rows
        .iter()
        .all(|r| r.digest.is_some() && r.error.is_none()));
    let by_version = registry::tag_page(&repository, &anonymous(), TagSort::Version, 0, 100)
        .await
        .unwrap();
    assert_eq!(
        order(&by_version),
        ["1.9", "1.10", "2.0-rc1", "2024-01-15", "latest"]
    );
    let by_name = registry::tag_page(&repository, &anonymous(), TagSort::Name, 0, 100)
        .await
        .unwrap();
    assert_eq!(
        order(&by_name),
        ["1.10", "1.9", "2.0-rc1", "2024-01-15", "latest"]
    );
    // The second page of two, with details for those two only.
    let page = registry::tag_page(&repository, &anonymous(), TagSort::Version, 2, 2)
        .await
        .unwrap();
    assert_eq!(order(&page), ["2.0-rc1", "2024-01-15"]);
    assert_eq!((page.total, page.next_offset), (5, Some(4)));
    assert!(page.rows.iter().all(|r| r.created.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_plan_deletes_what_it_lists_and_nothing_else() {
    let reg = Registry::plain();
    let client = anonymous_client(&reg.addr());
    let repo = "bulk/app";
    let old = push_dated(&client, repo, "old-1", "2023-01-01T00:00:00Z").await;
    // `old-2` shares its manifest with `keep-me`, so deleting `old-2` must leave `keep-me`.
    let shared = push_dated(&client, repo, "old-2", "2023-02-01T00:00:00Z").await;
    push_dated(&client, repo, "keep-me", "2023-02-01T00:00:00Z").await;
    let fresh = push_dated(&client, repo, "new-1", "2099-01-01T00:00:00Z").await;
    push_dated(&client, "bulk/other", "x", "2023-01-01T00:00:00Z").await;
    let repository = format!("{}/{repo}", reg.addr());

    let plan = registry::bulk_plan(
        &repository,
        &anonymous(),
        &Selection {
            filter: Some("old-*".into()),
            older_than: Some("30d".into()),
            ..Selection::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(plan.tags, ["old-1", "old-2"]);
    assert_eq!(plan.kept, ["keep-me", "new-1"]);
    assert_eq!(plan.deleted_manifests().collect::<Vec<_>>(), [old.as_str()]);
    assert!(plan.empties_repository.is_none());
    assert!(plan.complete);

    registry::execute(&plan, &anonymous()).await.unwrap();
    let mut left = registry::tags(&repository, &anonymous()).await.unwrap();
    left.sort();
    assert_eq!(left, ["keep-me", "new-1"]);
    let at = |tag: &str| skopeo_digest(&format!("{repository}:{tag}"));
    assert_eq!(at("keep-me").as_deref(), Some(shared.as_str()));
    assert_eq!(at("new-1").as_deref(), Some(fresh.as_str()));
    let other = format!("{}/bulk/other:x", reg.addr());
    assert!(
        skopeo_digest(&other).is_some(),
        "another repository is untouched"
    );

    // Keep the newest one of what is left: only `keep-me` goes, and then the repository's
    // last tag goes with --all-tags semantics, which the plan explains.
    let plan = registry::bulk_plan(
        &repository,
        &anonymous(),
        &Selection {
            keep_newest: Some(1),
            ..Selection::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(plan.tags, ["keep-me"]);
    registry::execute(&plan, &anonymous()).await.unwrap();
    let last = registry::delete_plan(
        &format!("{repository}:new-1"),
        &anonymous(),
        DeleteScope::Tag,
    )
    .await
    .unwrap();
    assert!(last.empties_repository.is_some());
    registry::execute(&last, &anonymous()).await.unwrap();
    let page = registry::tag_page(&repository, &anonymous(), TagSort::Date, 0, 10)
        .await
        .unwrap();
    assert!(page.rows.is_empty());
    let why = page.empty.expect("an empty repository is explained");
    assert!(why.contains("last tag was deleted"), "{why}");
}

/// Pushes two images sharing a base layer to the running managed registry at `addr`, deletes the
/// second, and checks that garbage collection takes from its data folder exactly the bytes the
/// ledger said deleting it frees. Returns the real run's report, for the backend's own checks.
async fn ledger_frees_what_gc_removes(managed: &LocalRegistry, addr: &str) -> GcReport {
    // Two images sharing the base layer; the second adds one layer of its own.
    let derived = derive_image("ledger", "head -c 300000 /dev/urandom > /blob");
    let (first, second) = (
        format!("{addr}/ledger/base:1"),
        format!("{addr}/ledger/derived:1"),
    );
    docker_push(&base_image(), &first);
    docker_push(&derived.0, &second);

    let usage = registry::usage(&format!("{addr}/ledger/derived"), &anonymous())
        .await
        .unwrap();
    let entry = &usage.entries[0];
    assert!(entry.shared > 0, "the base layer is shared: {usage:?}");
    assert!(entry.frees > 300_000, "{usage:?}");

    let plan = registry::delete_plan(&second, &anonymous(), DeleteScope::Tag)
        .await
        .unwrap();
    assert_eq!(plan.frees, entry.frees);
    registry::execute(&plan, &anonymous()).await.unwrap();

    let dry = registry_gc::garbage_collect(managed, true).await.unwrap();
    assert_eq!(dry.bytes, plan.frees, "{dry:?}");
    assert_eq!(dry.freed, 0, "a dry run removes nothing");
    assert!(!dry.restarted, "a dry run leaves the registry serving");
    let real = registry_gc::garbage_collect(managed, false).await.unwrap();
    assert!(real.restarted, "{real:?}");
    assert_eq!(
        real.freed, plan.frees,
        "the data dir shrank by exactly the ledger's figure: {real:?}"
    );
    assert_eq!(
        real.bytes, real.freed,
        "the blobs listed are the bytes gone"
    );
    assert!(managed.status().await.running, "the registry runs again");
    assert!(
        skopeo_digest(&first).is_some(),
        "the base image survives GC"
    );
    real
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_frees_what_garbage_collection_removes_from_disk() {
    if !std::path::Path::new("/usr/bin/docker-registry").is_file() {
        eprintln!("skipped: /usr/bin/docker-registry is not installed");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let managed = LocalRegistry::new(addr.clone(), Some(data.path().join("registry")));
    managed.start().await.expect("the managed registry starts");
    let report = ledger_frees_what_gc_removes(&managed, &addr).await;
    assert_eq!(report.backend, "/usr/bin/docker-registry", "{report:?}");
    managed.stop().await;
}

/// The same figures when the managed registry runs as the `registry:2` image: the program is
/// pointed at a path that does not exist, as on a machine without Debian's package, and the image
/// is the harness's offline stand-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_frees_what_garbage_collection_in_the_image_removes_from_disk() {
    let image = registry_image();
    let data = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let name = unique("slipway-test-gc-registry");
    let _cleanup = TempContainer(name.clone());
    let managed = LocalRegistry::with_options(LocalRegistryOptions {
        address: addr.clone(),
        data_dir: Some(data.path().join("registry")),
        program: data.path().join("no-docker-registry-here"),
        image: image.clone(),
        container_name: name.clone(),
        docker_host: None,
    });
    let started = managed.start().await.expect("the managed registry starts");
    assert!(started.backend.contains(&image), "{started:?}");
    let report = ledger_frees_what_gc_removes(&managed, &addr).await;
    assert!(report.backend.contains(&image), "{report:?}");
    // Only the serving container is left: the collecting one is removed after its run.
    let left = run(
        "docker",
        &[
            "ps",
            "-aq",
            "--filter",
            "label=io.slipway.local-registry-gc",
        ],
    );
    assert_eq!(left.trim(), "", "the collecting container is removed");
    managed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_registry_is_found_and_stopped_by_a_later_run() {
    if !std::path::Path::new("/usr/bin/docker-registry").is_file() {
        eprintln!("skipped: /usr/bin/docker-registry is not installed");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let dir = data.path().join("registry");
    {
        let first = LocalRegistry::new(addr.clone(), Some(dir.clone()));
        let st = first.start_detached().await.unwrap();
        assert!(st.running, "{st:?}");
    }
    // The first handle is gone (as when `slipway local-registry start` exits); it still runs.
    let later = LocalRegistry::new(addr.clone(), Some(dir.clone()));
    let st = later.status().await;
    assert!(st.running && st.answering && st.managed, "{st:?}");
    // Closing a window leaves the registry the command line started.
    let st = later.stop_on_exit().await;
    assert!(st.running && st.answering, "{st:?}");
    let stopped = later.stop().await;
    assert!(!stopped.running && !stopped.answering, "{stopped:?}");
}

/// On a registry with more repositories than a plan reads, the plan still works and says how far
/// it counted; its "frees" counts only what it saw, so a blob shared with a repository past the
/// cap counts as freed, and the plan says that figure is at most what garbage collection frees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_past_the_repository_cap_says_how_far_it_counted() {
    let reg = Registry::plain();
    let client = anonymous_client(&reg.addr());
    // 50 repositories in name order: many/r000..many/r046, seed/tiny, zz/app, zz/twin. The
    // image tagged zz/app:1 is also zz/twin:1, so deleting the first frees nothing.
    let tiny = push_tiny_image(&client, "seed/tiny", "v1").await;
    seed_repositories(&client, &tiny, "seed/tiny", "many/r", 47).await;
    push_dated(&client, "zz/app", "1", "2024-01-01T00:00:00Z").await;
    push_dated(&client, "zz/twin", "1", "2024-01-01T00:00:00Z").await;
    let reference = format!("{}/zz/app:1", reg.addr());

    let whole = registry::delete_plan(&reference, &anonymous(), DeleteScope::Tag)
        .await
        .unwrap();
    assert!(whole.complete, "{whole:?}");
    assert_eq!((whole.coverage.counted, whole.coverage.listed), (50, 50));
    assert_eq!(whole.coverage.through.as_deref(), Some("zz/twin"));
    assert_eq!(whole.frees, 0, "zz/twin still holds every blob");

    // Capped at 20: the first 20 in name order, plus the repository the plan is about.
    let capped = registry::delete_plan_within(&reference, &anonymous(), DeleteScope::Tag, 20)
        .await
        .unwrap();
    assert!(!capped.complete, "{capped:?}");
    assert_eq!((capped.coverage.counted, capped.coverage.listed), (21, 50));
    assert_eq!(capped.coverage.through.as_deref(), Some("many/r019"));
    assert_eq!(capped.tags, ["1"], "the plan itself is the same");
    assert_eq!(capped.manifests, whole.manifests);
    // zz/twin was not read, so the image looks held by zz/app alone: its manifest and config.
    let ledger = registry::usage(&format!("{}/zz/app", reg.addr()), &anonymous())
        .await
        .unwrap();
    assert!(ledger.complete, "{ledger:?}");
    assert_eq!(capped.frees, ledger.entries[0].bytes, "{capped:?}");
    assert!(
        capped.frees > whole.frees,
        "an upper bound, not a lower one"
    );

    // The registry's ledger reads the first 20 and says so.
    let usage = registry::usage_within(&reg.addr(), &anonymous(), 20)
        .await
        .unwrap();
    assert!(!usage.complete, "{usage:?}");
    assert_eq!(usage.entries.len(), 20);
    assert_eq!(usage.entries.last().unwrap().name, "many/r019");
    assert_eq!((usage.coverage.counted, usage.coverage.listed), (20, 50));
}

/// Paging through a repository by date: the first page reads each distinct manifest once, and
/// later pages only ask each tag's digest again (a HEAD), since a manifest's digest names bytes
/// that cannot change. So a repository with hundreds of tags pages without reading them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_pages_by_date_read_no_manifest_or_config_again() {
    let reg = Registry::start(RegistryConfig {
        access_log: true,
        ..Default::default()
    });
    let client = anonymous_client(&reg.addr());
    let repo = "paged/app";
    let count = 120;
    for i in 0..count {
        let created = format!("2024-01-01T00:{:02}:{:02}Z", i / 60, i % 60);
        push_dated(&client, repo, &format!("build-{i:03}"), &created).await;
    }
    let repository = format!("{}/{repo}", reg.addr());
    let reads = || {
        reg.access_log()
            .lines()
            .filter(|l| {
                l.contains("\"GET /v2/paged/app/manifests/")
                    || l.contains("\"GET /v2/paged/app/blobs/")
            })
            .count()
    };
    let first = registry::tag_page(&repository, &anonymous(), TagSort::Date, 0, 50)
        .await
        .unwrap();
    assert_eq!(first.rows.first().unwrap().tag, "build-119");
    assert_eq!((first.total, first.next_offset), (count, Some(50)));
    let after_first = reads();
    // Each distinct image once: its manifest and its config.
    assert!(
        after_first >= count && after_first <= 2 * count + 2,
        "{after_first} reads for {count} images"
    );
    let mut offset = first.next_offset;
    let mut seen = first.rows.len();
    while let Some(from) = offset {
        let page = registry::tag_page(&repository, &anonymous(), TagSort::Date, from, 50)
            .await
            .unwrap();
        assert!(page
            .rows
            .iter()
            .all(|r| r.created.is_some() && r.error.is_none()));
        seen += page.rows.len();
        offset = page.next_offset;
    }
    assert_eq!(seen, count);
    assert_eq!(
        reads(),
        after_first,
        "later pages read manifests or configs again"
    );
}
