//! Credentials stay with the registry they belong to: a URL the registry hands back (an upload
//! Location, a next-page Link, a redirect, a token realm) never takes the user's password or token
//! to another host or over plain HTTP. Each test runs a hostile registry over HTTPS (the fake
//! serves plain HTTP on the same port, as a proxy's backend would) and checks, from what the fake
//! recorded, that no credential went where it must not.

use slipway_oci::{Client, ClientOptions, CredentialSource, Credentials, Digest, RetryPolicy};
use slipway_tests::{Hostile, Misbehaviour, TestPki, SELF, TEST_PASSWORD, TEST_USER};

fn client(fake: &Hostile, pki: &TestPki) -> Client {
    Client::new(
        &fake.addr(),
        ClientOptions {
            ca_file: Some(pki.ca_cert()),
            credentials: CredentialSource::Explicit(Credentials::new(TEST_USER, TEST_PASSWORD)),
            retry: RetryPolicy {
                attempts: 2,
                ..RetryPolicy::default()
            },
            ..Default::default()
        },
    )
    .unwrap()
}

/// Fails the test if `work` has not ended within 20 s.
async fn within<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(20), work)
        .await
        .expect("still running after 20 s")
}

/// Nothing reached the fake over plain HTTP.
fn assert_nothing_in_clear(fake: &Hostile) {
    let clear: Vec<_> = fake.seen().into_iter().filter(|s| !s.tls).collect();
    assert!(clear.is_empty(), "requests over plain HTTP: {clear:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_location_on_plain_http_is_refused_and_gets_no_password() {
    let pki = TestPki::new();
    // A TLS-terminating proxy without X-Forwarded-Proto: the registry names its own plain URL.
    let fake = Hostile::tls(
        &pki,
        Misbehaviour::UploadLocation(format!("http://{SELF}/v2/app/blobs/uploads/u1")),
    )
    .await;
    let data = b"a small blob".to_vec();
    let err = within(client(&fake, &pki).push_blob(
        "app",
        &Digest::sha256_of(&data),
        data.len() as u64,
        slipway_oci::BlobSource::Bytes(data.into()),
        None,
    ))
    .await
    .unwrap_err();
    assert_eq!(err.code(), "registry_insecure_url", "{err}");
    assert!(err.to_string().contains("X-Forwarded-Proto"), "{err}");
    assert_nothing_in_clear(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_location_on_another_host_gets_no_credentials() {
    let pki = TestPki::new();
    let other = Hostile::tls(&pki, Misbehaviour::Honest).await;
    let fake = Hostile::tls(
        &pki,
        Misbehaviour::UploadLocation(format!("https://127.0.0.1:{}/upload/u1", other.port)),
    )
    .await;
    let data = b"a small blob".to_vec();
    within(client(&fake, &pki).push_blob(
        "app",
        &Digest::sha256_of(&data),
        data.len() as u64,
        slipway_oci::BlobSource::Bytes(data.into()),
        None,
    ))
    .await
    .unwrap();
    let there = other.seen();
    assert!(
        there.iter().any(|s| s.uri.starts_with("/upload/u1")),
        "the upload went to the other host: {there:?}"
    );
    assert!(
        !other.saw_credentials(),
        "credentials reached the other host: {there:?}"
    );
    assert!(
        fake.saw_credentials(),
        "the registry itself still gets them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_page_link_to_another_host_gets_no_credentials() {
    let pki = TestPki::new();
    let other = Hostile::tls(&pki, Misbehaviour::Honest).await;
    let fake = Hostile::tls(
        &pki,
        Misbehaviour::NextLink(format!(
            "https://127.0.0.1:{}/v2/app/tags/list?last=a",
            other.port
        )),
    )
    .await;
    let tags = within(client(&fake, &pki).tags("app")).await.unwrap();
    assert_eq!(tags, vec!["a", "b"]);
    assert!(!other.saw_credentials(), "{:?}", other.seen());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_page_link_on_plain_http_is_refused() {
    let pki = TestPki::new();
    let fake = Hostile::tls(
        &pki,
        Misbehaviour::NextLink(format!("http://{SELF}/v2/app/tags/list?last=a")),
    )
    .await;
    let err = within(client(&fake, &pki).tags("app")).await.unwrap_err();
    assert_eq!(err.code(), "registry_insecure_url", "{err}");
    assert_nothing_in_clear(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_from_https_to_http_on_the_same_host_is_refused() {
    let pki = TestPki::new();
    // Same host and port: reqwest would keep the Authorization header on this redirect.
    let fake = Hostile::tls(
        &pki,
        Misbehaviour::Redirect(format!("http://{SELF}/v2/app/manifests/elsewhere")),
    )
    .await;
    let err = within(client(&fake, &pki).get_manifest("app", "1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "registry_insecure_url", "{err}");
    assert!(err.to_string().contains("redirect"), "{err}");
    assert_nothing_in_clear(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_realm_on_plain_http_elsewhere_gets_no_password() {
    let pki = TestPki::new();
    let token_server = Hostile::plain(Misbehaviour::Honest).await;
    // An IPv4-mapped address is this machine, but not one the client can know is loopback: it
    // stands for a token server across the network.
    let fake = Hostile::tls(
        &pki,
        Misbehaviour::BearerRealm(format!(
            "http://[::ffff:127.0.0.1]:{}/token",
            token_server.port
        )),
    )
    .await;
    let err = within(client(&fake, &pki).get_manifest("app", "1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "registry_insecure_realm", "{err}");
    assert!(
        token_server.seen().is_empty(),
        "the token server was asked: {:?}",
        token_server.seen()
    );
}
