//! Repositories made cheaply through the registry API, for tests that need many of them.

use bytes::Bytes;
use slipway_oci::manifests::DOCKER_MANIFEST;
use slipway_oci::{BlobSource, Client, ClientOptions, CredentialSource, Digest};

/// A client for the registry at `addr` that uses no stored credentials, as the plain test
/// registries want.
pub fn anonymous_client(addr: &str) -> Client {
    Client::new(
        addr,
        ClientOptions {
            credentials: CredentialSource::None,
            ..Default::default()
        },
    )
    .expect("a client for a loopback registry")
}

/// The smallest valid image: a config with no layers, and the manifest that names it.
#[derive(Debug, Clone)]
pub struct TinyImage {
    pub config_digest: Digest,
    pub manifest: Bytes,
}

/// Uploads the tiny image's config to `repo` and tags its manifest `tag` there.
pub async fn push_tiny_image(client: &Client, repo: &str, tag: &str) -> TinyImage {
    let config = Bytes::from_static(
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
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
        .expect("upload the tiny image's config");
    let manifest = Bytes::from(format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"{config_digest}"}},"layers":[]}}"#,
        config.len()
    ));
    client
        .put_manifest(repo, tag, DOCKER_MANIFEST, manifest.clone())
        .await
        .expect("put the tiny image's manifest");
    TinyImage {
        config_digest,
        manifest,
    }
}

/// Makes `count` repositories `{prefix}000`, `{prefix}001`, ... each holding `tiny` as tag `v1`.
/// The config is mounted from `seed_repo` rather than uploaded, so hundreds take a second.
pub async fn seed_repositories(
    client: &Client,
    tiny: &TinyImage,
    seed_repo: &str,
    prefix: &str,
    count: usize,
) -> Vec<String> {
    let mut repos = Vec::with_capacity(count);
    for i in 0..count {
        let repo = format!("{prefix}{i:03}");
        client
            .mount_blob(&repo, &tiny.config_digest, seed_repo)
            .await
            .expect("mount the tiny config");
        client
            .put_manifest(&repo, "v1", DOCKER_MANIFEST, tiny.manifest.clone())
            .await
            .expect("put the tiny manifest");
        repos.push(repo);
    }
    repos
}
