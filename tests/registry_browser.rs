//! What the registry browser shows comes from core, against the real registry: the
//! catalog a page at a time as the registry pages it, and each tag with its manifest's facts.

use slipway_core::registry::{self, RegistryAccess};
use slipway_tests::{base_image, run, Registry};

fn anonymous() -> RegistryAccess {
    RegistryAccess {
        anonymous: true,
        ..Default::default()
    }
}

/// Pushes the base image to `host/repo:tag` with the docker CLI, an independent writer.
fn docker_push(registry: &Registry, repo_tag: &str) {
    let target = format!("{}/{repo_tag}", registry.addr());
    run("docker", &["tag", &base_image(), &target]);
    run("docker", &["push", "-q", &target]);
    run("docker", &["rmi", &target]);
}

#[tokio::test]
async fn catalog_pages_follow_the_registry_with_last_and_n() {
    let registry = Registry::plain();
    for name in ["a", "b", "c", "d", "e"] {
        docker_push(&registry, &format!("browse/{name}:1"));
    }
    let access = anonymous();
    let mut seen = Vec::new();
    let mut last: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = registry::catalog_page(&registry.addr(), &access, last.as_deref(), 2)
            .await
            .expect("a catalog page");
        assert!(page.repositories.len() <= 2, "{page:?}");
        seen.extend(page.repositories.clone());
        pages += 1;
        match page.next {
            Some(next) => last = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["browse/a", "browse/b", "browse/c", "browse/d", "browse/e"]
    );
    assert_eq!(pages, 3, "five names two at a time are three pages");
}

#[tokio::test]
async fn tag_rows_carry_digest_size_and_platform() {
    let registry = Registry::plain();
    docker_push(&registry, "browse/app:1.0");
    docker_push(&registry, "browse/app:stable");
    let rows = registry::tag_rows(&format!("{}/browse/app", registry.addr()), &anonymous())
        .await
        .expect("tag rows");
    let tags: Vec<_> = rows.iter().map(|r| r.tag.as_str()).collect();
    assert_eq!(tags, ["1.0", "stable"]);
    // Both tags name the same manifest, which is what the delete confirmation relies on.
    assert_eq!(rows[0].digest, rows[1].digest);
    let skopeo = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--format",
            "{{.Digest}}",
            &format!("docker://{}/browse/app:1.0", registry.addr()),
        ],
    );
    assert_eq!(rows[0].digest.as_deref(), Some(skopeo.trim()));
    assert!(rows[0].size.unwrap_or(0) > 0);
    assert_eq!(rows[0].platforms, ["linux/amd64"]);
    assert!(rows.iter().all(|r| r.error.is_none()), "{rows:?}");
}
