//! Against secured real registries: TLS with a test CA plus htpasswd (bcrypt) Basic auth,
//! and token auth with JWTs from a test token server. In each: push an engine image, check the
//! digest with skopeo, copy to a second registry, delete and see the other tags reported.

use std::sync::Arc;

use slipway_core::fetch::FetchRequest;
use slipway_core::push::{PushOutcome, PushRequest};
use slipway_core::registry::{self, DeleteScope, PlatformChoice, RegistryAccess};
use slipway_core::Slipway;
use slipway_oci::{Client, ClientOptions, CredentialSource, CredentialStore, Credentials, Digest};
use slipway_tests::{
    assert_runs_and_says, base_image, connect, push_tiny_image, run, seed_repositories, Registry,
    SecureRegistry, TEST_IDENTITY_TOKEN, TEST_PASSWORD, TEST_USER,
};

fn creds() -> Credentials {
    Credentials::new(TEST_USER, TEST_PASSWORD)
}

async fn push(
    slipway: &Slipway,
    image: &str,
    target: &str,
    access: RegistryAccess,
    cache: &std::path::Path,
) -> slipway_core::Result<PushOutcome> {
    slipway
        .push(
            PushRequest {
                image: image.to_string(),
                target: target.to_string(),
                access,
                level: None,
                cache_dir: Some(cache.to_path_buf()),
                ..Default::default()
            },
            Arc::new(|_| {}),
        )
        .await
}

/// skopeo's view of the manifest digest, with the registry's CA and the test credentials.
fn skopeo_digest(reference: &str, cert_dir: Option<&std::path::Path>) -> String {
    let creds = format!("{TEST_USER}:{TEST_PASSWORD}");
    let target = format!("docker://{reference}");
    let mut args = vec!["inspect", "--raw", "--creds", &creds];
    let cert_arg;
    match cert_dir {
        Some(dir) => {
            cert_arg = format!("--cert-dir={}", dir.display());
            args.push(&cert_arg);
        }
        None => args.push("--tls-verify=false"),
    }
    args.push(&target);
    Digest::sha256_of(run("skopeo", &args).as_bytes()).to_string()
}

/// The scenario both secured registries go through.
async fn scenario(
    secure: &SecureRegistry,
    access: RegistryAccess,
    cert_dir: Option<&std::path::Path>,
) {
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let target = format!("{}/secure/base:1", secure.addr());

    let pushed = push(&slipway, &base, &target, access.clone(), cache.path())
        .await
        .unwrap_or_else(|e| panic!("push failed: {e}\nregistry log:\n{}", secure.log()));
    assert_eq!(skopeo_digest(&target, cert_dir), pushed.digest);

    // Without credentials the registry refuses, with a message saying to log in.
    let anonymous = RegistryAccess {
        anonymous: true,
        credentials: None,
        ..access.clone()
    };
    let err = push(
        &slipway,
        &base,
        &format!("{}/secure/anon:1", secure.addr()),
        anonymous.clone(),
        cache.path(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "unauthorized", "{err}");
    assert!(err.to_string().contains("log in"), "{err}");
    assert!(!err.to_string().contains("slipway "), "{err}");
    assert!(!err.to_string().contains(TEST_PASSWORD));

    // Copy to a plain registry (streamed between the two) and within the secured one.
    let plain = Registry::plain();
    let plain_access = RegistryAccess {
        anonymous: true,
        ..Default::default()
    };
    let copied = registry::copy(
        &target,
        &format!("{}/from-secure/base:1", plain.addr()),
        &access,
        &plain_access,
        PlatformChoice::All,
        None,
    )
    .await
    .unwrap();
    assert_eq!(copied.digest, pushed.digest);
    assert!(copied.blobs_copied >= 2);
    registry::copy(
        &target,
        &format!("{}/secure/base:also", secure.addr()),
        &access,
        &access,
        PlatformChoice::All,
        None,
    )
    .await
    .unwrap();

    let caps = registry::probe(&secure.addr(), &access).await.unwrap();
    assert!(caps.authenticated, "{caps:?}");
    assert_eq!(caps.delete, Some(true), "{caps:?}");

    let repos = registry::catalog(&secure.addr(), &access).await.unwrap();
    assert!(repos.contains(&"secure/base".to_string()), "{repos:?}");

    let deleted = registry::delete(&target, &access, DeleteScope::Manifest)
        .await
        .unwrap();
    let mut tags = deleted.tags.clone();
    tags.sort();
    assert_eq!(tags, vec!["1".to_string(), "also".to_string()]);
    let err = registry::inspect(&target, &access, None).await.unwrap_err();
    assert_eq!(err.code(), "not_found", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_htpasswd_registry() {
    let secure = Registry::tls_htpasswd();
    let access = RegistryAccess {
        ca_file: Some(secure.pki.ca_cert()),
        credentials: Some(creds()),
        ..Default::default()
    };

    // Without the CA the certificate is unknown, and the error says how to trust it.
    let untrusted = RegistryAccess {
        ca_file: None,
        ..access.clone()
    };
    let err = registry::probe(&secure.addr(), &untrusted)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "registry_untrusted_certificate", "{err}");
    assert!(err.to_string().contains("CA certificate"), "{err}");
    assert!(!err.to_string().contains("--ca"), "{err}");

    let caps = registry::probe(&secure.addr(), &access).await.unwrap();
    assert_eq!(caps.scheme, "https");
    assert_eq!(caps.auth, slipway_oci::AuthKind::Basic);

    // docker itself pulls what we pushed over TLS with Basic auth, and runs it.
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let target = format!("{}/tls/base:1", secure.addr());
    let pushed = push(
        &slipway,
        &base_image(),
        &target,
        access.clone(),
        cache.path(),
    )
    .await
    .unwrap();
    docker_pulls_and_runs(&secure.addr(), &target, &pushed.digest);

    let cert_dir = secure.pki.cert_dir();
    scenario(&secure, access, Some(&cert_dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_auth_registry() {
    let secure = Registry::token();
    let access = RegistryAccess {
        credentials: Some(creds()),
        ..Default::default()
    };
    let caps = registry::probe(&secure.addr(), &access).await.unwrap();
    assert_eq!(caps.auth, slipway_oci::AuthKind::Bearer);

    // Wrong password: the token server refuses, and that is an authorization error.
    let wrong = RegistryAccess {
        credentials: Some(Credentials::new(TEST_USER, "wrong")),
        ..Default::default()
    };
    let err = registry::catalog(&secure.addr(), &wrong).await.unwrap_err();
    assert_eq!(err.code(), "unauthorized", "{err}");
    assert!(!err.to_string().contains("wrong\""));

    // docker itself pulls what we pushed, through the same token server.
    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let target = format!("{}/token/base:1", secure.addr());
    let pushed = push(&slipway, &base, &target, access.clone(), cache.path())
        .await
        .unwrap();
    docker_pulls_and_runs(&secure.addr(), &target, &pushed.digest);

    scenario(&secure, access, None).await;
}

/// Pull from a TLS registry with a private CA and Basic auth straight into the engine: docker
/// itself could not without certs.d and `docker login`; the image then runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_from_a_private_ca_registry_into_the_engine() {
    let base = base_image();
    let secure = Registry::tls_htpasswd();
    let access = RegistryAccess {
        ca_file: Some(secure.pki.ca_cert()),
        credentials: Some(creds()),
        ..Default::default()
    };
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let target = format!("{}/fetch/base:1", secure.addr());
    let pushed = push(&slipway, &base, &target, access.clone(), cache.path())
        .await
        .unwrap();
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &target])
        .output();
    let fetched = slipway
        .fetch(
            FetchRequest {
                reference: target.clone(),
                access: access.clone(),
                cache_dir: Some(cache.path().to_path_buf()),
                ..Default::default()
            },
            Arc::new(|_| {}),
        )
        .await
        .unwrap();
    assert_eq!(fetched.digest, pushed.digest);
    assert!(
        fetched.engine_messages.iter().any(|m| m.contains(&target)),
        "{:?}",
        fetched.engine_messages
    );
    assert_runs_and_says(&target, "fetched-by-slipway");

    // A wrong CA is the certificate error, before anything reaches the engine.
    let wrong = RegistryAccess {
        ca_file: None,
        ..access
    };
    let err = slipway
        .fetch(
            FetchRequest {
                reference: target.clone(),
                access: wrong,
                cache_dir: Some(cache.path().to_path_buf()),
                ..Default::default()
            },
            Arc::new(|_| {}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "registry_untrusted_certificate", "{err}");
}

/// The certs.d convention: `<certs.d>/HOST:PORT/ca.crt` is trusted without any option.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certs_d_ca_is_trusted() {
    let secure = Registry::tls_htpasswd();
    let certs_d = tempfile::tempdir().unwrap();
    let dir = certs_d.path().join(secure.addr());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(secure.pki.ca_cert(), dir.join("ca.crt")).unwrap();
    let options = |certs_dir: Option<std::path::PathBuf>| slipway_oci::ClientOptions {
        credentials: slipway_oci::CredentialSource::Explicit(creds()),
        certs_dir,
        ..Default::default()
    };
    let trusted =
        slipway_oci::Client::new(&secure.addr(), options(Some(certs_d.path().to_path_buf())))
            .unwrap();
    let caps = trusted.probe().await.unwrap();
    assert_eq!(caps.scheme, "https");
    assert!(caps.authenticated);
    let empty = tempfile::tempdir().unwrap();
    let untrusted =
        slipway_oci::Client::new(&secure.addr(), options(Some(empty.path().to_path_buf())))
            .unwrap();
    assert_eq!(
        untrusted.probe().await.unwrap_err().code(),
        "registry_untrusted_certificate"
    );
}

/// Catalog and tags over several pages on the secured registries too (the catalog needs its own
/// `registry:catalog:*` token scope under token auth).
async fn page_through(addr: &str, access: &RegistryAccess, ca: Option<std::path::PathBuf>) {
    let client = slipway_oci::Client::new(
        addr,
        slipway_oci::ClientOptions {
            credentials: slipway_oci::CredentialSource::Explicit(creds()),
            ca_file: ca,
            ..Default::default()
        },
    )
    .unwrap();
    let tiny = push_tiny_image(&client, "pages/seed", "v1").await;
    seed_repositories(&client, &tiny, "pages/seed", "pages/r", 260).await;
    let mut pages = 0;
    let mut seen = Vec::new();
    let mut page = client.catalog_page(Some(100), None, None).await.unwrap();
    loop {
        pages += 1;
        seen.append(&mut page.items);
        let Some(next) = page.next.take() else { break };
        page = client.catalog_page(None, None, Some(&next)).await.unwrap();
    }
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(
        seen.iter().filter(|r| r.starts_with("pages/r")).count(),
        260
    );
    let all = registry::catalog(addr, access).await.unwrap();
    assert_eq!(all.iter().filter(|r| r.starts_with("pages/r")).count(), 260);
    assert_eq!(
        registry::tags(&format!("{addr}/pages/r259"), access)
            .await
            .unwrap(),
        vec!["v1".to_string()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_pages_on_tls_and_token_registries() {
    let tls = Registry::tls_htpasswd();
    let access = RegistryAccess {
        ca_file: Some(tls.pki.ca_cert()),
        credentials: Some(creds()),
        ..Default::default()
    };
    page_through(&tls.addr(), &access, Some(tls.pki.ca_cert())).await;
    let token = Registry::token();
    let access = RegistryAccess {
        credentials: Some(creds()),
        ..Default::default()
    };
    page_through(&token.addr(), &access, None).await;
}

/// docker itself logs in, pulls what Slipway pushed, finds the same digest, and runs it. It uses a
/// config dir of its own, so the machine's docker login state is untouched; docker treats
/// loopback registries as insecure, so it needs no certs.d entry for the test CA.
fn docker_pulls_and_runs(registry: &str, target: &str, digest: &str) {
    let docker_config = tempfile::tempdir().unwrap();
    let config_dir = docker_config.path().to_string_lossy().into_owned();
    let mut login = std::process::Command::new("docker")
        .args([
            "--config",
            &config_dir,
            "login",
            registry,
            "-u",
            TEST_USER,
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        login
            .stdin
            .take()
            .unwrap()
            .write_all(TEST_PASSWORD.as_bytes())
            .unwrap();
    }
    // Kept, not shown: docker warns on stderr that the throwaway config stores the password.
    let login = login.wait_with_output().unwrap();
    assert!(
        login.status.success(),
        "docker login to {registry} failed: {}",
        String::from_utf8_lossy(&login.stderr)
    );
    run("docker", &["--config", &config_dir, "pull", "-q", target]);
    let repo_digests = run(
        "docker",
        &["image", "inspect", "-f", "{{json .RepoDigests}}", target],
    );
    assert!(repo_digests.contains(digest), "{repo_digests}");
    assert_runs_and_says(target, "pulled-by-docker");
}

/// An identity token that `docker login` left in config.json (as registries with an OAuth2 token
/// server issue) is traded for access tokens with a `refresh_token` grant: Slipway reads it from
/// the store, pushes an engine image with it, and skopeo sees the same digest. A wrong identity
/// token is an authorization error that does not show the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_token_from_docker_config() {
    let secure = Registry::token();
    let files = tempfile::tempdir().unwrap();
    let config = files.path().join("config.json");
    std::fs::write(
        &config,
        serde_json::json!({ "auths": { secure.addr(): {
            "auth": "PHRva2VuPjo=",
            "identitytoken": TEST_IDENTITY_TOKEN,
        } } })
        .to_string(),
    )
    .unwrap();
    let stored = CredentialStore::at(&config).get(&secure.addr()).unwrap();
    let stored = stored.expect("the identity token in config.json");
    assert!(stored.is_identity_token());

    let client = Client::new(
        &secure.addr(),
        ClientOptions {
            credentials: CredentialSource::Store(CredentialStore::at(&config)),
            ..Default::default()
        },
    )
    .unwrap();
    push_tiny_image(&client, "oauth/tiny", "1").await;
    assert!(client
        .catalog()
        .await
        .unwrap()
        .contains(&"oauth/tiny".to_string()));

    let base = base_image();
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let target = format!("{}/oauth/base:1", secure.addr());
    let access = RegistryAccess {
        credentials: Some(stored),
        ..Default::default()
    };
    let pushed = push(&slipway, &base, &target, access, cache.path())
        .await
        .unwrap();
    assert_eq!(skopeo_digest(&target, None), pushed.digest);

    let wrong = RegistryAccess {
        credentials: Some(Credentials::identity_token("not-the-token")),
        ..Default::default()
    };
    let err = registry::catalog(&secure.addr(), &wrong).await.unwrap_err();
    assert_eq!(err.code(), "unauthorized", "{err}");
    assert!(!err.to_string().contains("not-the-token"), "{err}");
}
