//! A connection cut mid-upload (a TCP proxy in front of the real registry), a
//! lying registry that serves a blob whose bytes do not match its digest, and each HTTP failure
//! status turned into its own clear error (an axum fake, since a real registry cannot be made to
//! produce them on demand).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};
use bytes::Bytes;
use slipway_core::push::{PushOutcome, PushRequest, Route};
use slipway_core::registry::{self, PlatformChoice, RegistryAccess};
use slipway_oci::{
    BlobSource, Client, ClientOptions, CredentialSource, Credentials, Digest, RetryPolicy,
};
use slipway_tests::{connect, derive_image, run, Registry, TempImage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
    }
}

fn client(addr: &str) -> Client {
    Client::new(
        addr,
        ClientOptions {
            credentials: CredentialSource::None,
            retry: fast_retry(),
            ..Default::default()
        },
    )
    .unwrap()
}

/// Decides, for each read from the client (and the byte count before it), whether to cut the
/// connection, and how many of the read's bytes still reach the server first.
type CutRule = Arc<dyn Fn(&[u8], u64) -> Option<usize> + Send + Sync>;

/// Forwards 127.0.0.1:<port> to `upstream`, and cuts the first connection `rule` picks (once),
/// as a flaky network would.
async fn cutting_proxy(upstream: String, rule: CutRule) -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(AtomicU64::new(0));
    let cut = Arc::new(AtomicBool::new(false));
    let cut_flag = cut.clone();
    tokio::spawn(async move {
        // Bounded: a test makes at most a few hundred connections.
        for _ in 0..2000 {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let upstream = upstream.clone();
            let sent = sent.clone();
            let cut = cut_flag.clone();
            let rule = rule.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut ri, mut wi) = inbound.split();
                let (mut ro, mut wo) = outbound.split();
                let up = async {
                    let mut buf = vec![0u8; 64 << 10];
                    loop {
                        let n = match ri.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        let before = sent.fetch_add(n as u64, Ordering::SeqCst);
                        if let Some(forward) = rule(&buf[..n], before) {
                            if !cut.swap(true, Ordering::SeqCst) {
                                // Forward what the rule lets through, then drop the connection.
                                let _ = wo.write_all(&buf[..forward.min(n)]).await;
                                return;
                            }
                        }
                        if wo.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                let down = async {
                    let _ = tokio::io::copy(&mut ro, &mut wi).await;
                };
                // Whichever side ends first ends the connection, like a dropped link.
                tokio::select! {
                    _ = up => {},
                    _ = down => {},
                }
            });
        }
    });
    (port, cut)
}

/// Cuts the connection that carries the `at`-th byte from client to server, half-way through
/// that read: inside a request body.
fn cut_at_byte(at: u64) -> CutRule {
    Arc::new(move |buf, before| {
        let n = buf.len() as u64;
        (before < at && before + n >= at).then_some(buf.len() / 2)
    })
}

/// Every blob digest the registry stores, read from its filesystem.
fn stored_blobs(reg: &Registry) -> BTreeSet<String> {
    let root = reg.storage().join("docker/registry/v2/blobs/sha256");
    let mut out = BTreeSet::new();
    for prefix in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        for blob in std::fs::read_dir(prefix.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if blob.path().join("data").exists() {
                out.insert(format!("sha256:{}", blob.file_name().to_string_lossy()));
            }
        }
    }
    out
}

/// An image with a 24 MiB incompressible layer on top of the base, so its upload is chunked.
fn big_image() -> TempImage {
    derive_image("issue3-big", "head -c 25165824 /dev/urandom > /big.bin")
}

/// Pushes a fresh image with a 24 MiB layer to a plain registry through a proxy that cuts one
/// connection where `rule` says, then checks that the cut happened and that the registry holds
/// exactly the config, layers and manifest, nothing half-written, and skopeo reads the digest.
async fn push_through_a_cut(rule: CutRule) -> PushOutcome {
    let big = big_image();
    let reg = Registry::plain();
    let (port, cut) = cutting_proxy(reg.addr(), rule).await;
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let slipway = connect(data.path()).await;
    let outcome = slipway
        .push(
            PushRequest {
                image: big.0.clone(),
                target: format!("127.0.0.1:{port}/faults/big:1"),
                access: RegistryAccess {
                    anonymous: true,
                    ..Default::default()
                },
                level: Some(1),
                cache_dir: Some(cache.path().to_path_buf()),
                route: Route::Export,
                ..Default::default()
            },
            Arc::new(|_| {}),
        )
        .await
        .unwrap_or_else(|e| panic!("push through the cutting proxy failed: {e}\n{}", reg.log()));
    assert!(
        cut.load(Ordering::SeqCst),
        "the proxy never cut a connection"
    );

    let manifest = client(&reg.addr())
        .get_manifest("faults/big", "1")
        .await
        .unwrap();
    assert_eq!(manifest.digest.to_string(), outcome.digest);
    let mut expected: BTreeSet<String> = outcome.layers.iter().map(|l| l.digest.clone()).collect();
    let slipway_oci::ManifestKind::Image(m) = &manifest.kind else {
        panic!("not an image")
    };
    expected.insert(m.config().digest().to_string());
    // The registry keeps manifests in its blob store too.
    expected.insert(outcome.digest.clone());
    assert_eq!(stored_blobs(&reg), expected);
    let skopeo = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{}/faults/big:1", reg.addr()),
        ],
    );
    assert_eq!(
        Digest::sha256_of(skopeo.as_bytes()).to_string(),
        outcome.digest
    );
    outcome
}

/// A cut inside a PATCH body. docker-registry 2.8 then holds more bytes than its signed upload
/// state says and cancels the upload, so the layer starts again from its cache file, and the
/// registry still ends with exactly the right blobs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_resumes_after_the_connection_is_cut_mid_upload() {
    // 12 MiB into the traffic: inside the second PATCH of the big layer.
    push_through_a_cut(cut_at_byte(12 << 20)).await;
}

/// The start of the Content-Range of a read that begins a PATCH request.
fn patch_range_start(read: &[u8]) -> Option<u64> {
    if !read.starts_with(b"PATCH ") {
        return None;
    }
    let end = read.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&read[..end]).to_ascii_lowercase();
    let range = head
        .lines()
        .find_map(|l| l.strip_prefix("content-range:"))?;
    range.trim().split('-').next()?.parse().ok()
}

/// A cut between chunks: the connection drops as a PATCH starts, before the registry has any of
/// its bytes. The upload is intact on the real registry, so the push asks it for the offset (GET
/// on the upload), continues from there, and never opens a second upload for that layer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_continues_from_the_registrys_offset_after_a_cut_between_chunks() {
    let uploads_opened = Arc::new(AtomicU64::new(0));
    let cut_at_offset = Arc::new(AtomicU64::new(0));
    let rule: CutRule = {
        let uploads_opened = uploads_opened.clone();
        let cut_at_offset = cut_at_offset.clone();
        Arc::new(move |read, _| {
            let opens_upload =
                read.starts_with(b"POST /v2/") && read.windows(15).any(|w| w == b"/blobs/uploads/");
            if opens_upload {
                uploads_opened.fetch_add(1, Ordering::SeqCst);
            }
            // The first PATCH past the first chunk, so the registry already holds a chunk.
            let start = patch_range_start(read)?;
            let first = start >= slipway_oci::uploads::CHUNK_SIZE
                && cut_at_offset
                    .compare_exchange(0, start, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok();
            first.then_some(0)
        })
    };
    let outcome = push_through_a_cut(rule).await;
    assert_eq!(
        cut_at_offset.load(Ordering::SeqCst),
        slipway_oci::uploads::CHUNK_SIZE
    );
    // One upload per layer plus the config's: a restarted layer would have opened another.
    assert_eq!(
        uploads_opened.load(Ordering::SeqCst),
        outcome.layers.len() as u64 + 1
    );
}

/// The fake registry: `/v2/status/<code>/...` answers `<code>`; `/v2/lying/blobs/<d>` serves
/// bytes that do not hash to `<d>`; `/v2/lying/manifests/1` names such a blob; `/v2/paged/tags/list`
/// pages with Link headers.
async fn fake_registry() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = axum::Router::new().fallback(fake);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

const LIE: &[u8] = b"these bytes are not what the digest says";

fn lying_digest() -> Digest {
    Digest::sha256_of(b"the real content")
}

async fn fake(method: Method, uri: Uri, _headers: HeaderMap) -> Response<Body> {
    let path = uri.path();
    let query = uri.query().unwrap_or("");
    let reply = |status: StatusCode| Response::builder().status(status);
    if path == "/v2/" {
        return reply(StatusCode::OK).body(Body::empty()).unwrap();
    }
    if path == "/v2/flaky/manifests/1" {
        // Busy once (503 with Retry-After: 1), then fine: the client waits and retries.
        static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        if CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
            return reply(StatusCode::SERVICE_UNAVAILABLE)
                .header("retry-after", "1")
                .body(Body::empty())
                .unwrap();
        }
        let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#;
        return reply(StatusCode::OK)
            .header(
                "content-type",
                "application/vnd.docker.distribution.manifest.v2+json",
            )
            .body(Body::from(manifest))
            .unwrap();
    }
    if let Some(rest) = path.strip_prefix("/v2/status/") {
        let code: u16 = rest.split('/').next().unwrap().parse().unwrap();
        let mut r =
            reply(StatusCode::from_u16(code).unwrap()).header("content-type", "application/json");
        if code == 401 {
            r = r.header("www-authenticate", "Basic realm=\"fake\"");
        }
        if code == 429 {
            r = r.header("retry-after", "0");
        }
        let body =
            format!(r#"{{"errors":[{{"code":"FAKE_{code}","message":"fake failure {code}"}}]}}"#);
        return r.body(Body::from(body)).unwrap();
    }
    if path == format!("/v2/lying/blobs/{}", Digest::sha256_of(b"{}")) && method == Method::GET {
        return reply(StatusCode::OK).body(Body::from("{}")).unwrap();
    }
    if path.starts_with("/v2/lying/blobs/") {
        return reply(StatusCode::OK)
            .header("content-length", LIE.len())
            .body(Body::from(Bytes::from_static(LIE)))
            .unwrap();
    }
    if path == "/v2/lying/manifests/1" {
        let config = Digest::sha256_of(b"{}");
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"{config}"}},"layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{},"digest":"{}"}}]}}"#,
            LIE.len(),
            lying_digest()
        );
        return reply(StatusCode::OK)
            .header(
                "content-type",
                "application/vnd.docker.distribution.manifest.v2+json",
            )
            .body(Body::from(manifest))
            .unwrap();
    }
    if path == "/v2/paged/tags/list" {
        let all: Vec<String> = (0..25).map(|i| format!("t{i:02}")).collect();
        let last = query
            .split('&')
            .find_map(|p| p.strip_prefix("last="))
            .unwrap_or("");
        let n: usize = query
            .split('&')
            .find_map(|p| p.strip_prefix("n="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(1000)
            .min(10);
        let start = all
            .iter()
            .position(|t| t.as_str() > last)
            .unwrap_or(all.len());
        let page: Vec<&String> = all[start..].iter().take(n).collect();
        let mut r = reply(StatusCode::OK).header("content-type", "application/json");
        if start + page.len() < all.len() {
            r = r.header(
                "link",
                format!(
                    "</v2/paged/tags/list?n={n}&last={}>; rel=\"next\"",
                    page.last().unwrap()
                ),
            );
        }
        return r
            .body(Body::from(
                serde_json::json!({"name": "paged", "tags": page}).to_string(),
            ))
            .unwrap();
    }
    reply(StatusCode::NOT_FOUND).body(Body::empty()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lying_registry_blob_with_wrong_digest_is_an_error_and_nothing_is_kept() {
    let fake = fake_registry().await;
    let c = client(&fake);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    let err = c
        .download_blob("lying", &lying_digest(), &path)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "digest_mismatch", "{err}");
    assert!(err.to_string().contains("nothing was kept"), "{err}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "a file was left behind"
    );

    // Copying from the liar into a real registry fails and the real registry keeps no such blob.
    let reg = Registry::plain();
    let access = RegistryAccess {
        anonymous: true,
        ..Default::default()
    };
    let err = registry::copy(
        &format!("{fake}/lying:1"),
        &format!("{}/victim/app:1", reg.addr()),
        &access,
        &access,
        PlatformChoice::All,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "digest_mismatch", "{err}");
    let kept = stored_blobs(&reg);
    assert!(!kept.contains(&lying_digest().to_string()), "{kept:?}");
    assert!(
        !kept.contains(&Digest::sha256_of(LIE).to_string()),
        "{kept:?}"
    );
    assert!(client(&reg.addr())
        .head_manifest("victim/app", "1")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_status_has_its_own_clear_error() {
    let fake = fake_registry().await;
    let secret = "hunter2-secret";
    let with_creds = Client::new(
        &fake,
        ClientOptions {
            credentials: CredentialSource::Explicit(Credentials::new("alice", secret)),
            retry: fast_retry(),
            ..Default::default()
        },
    )
    .unwrap();
    let mut messages = BTreeSet::new();
    for (status, code, hint) in [
        (401, "unauthorized", "log in"),
        (403, "denied", "rights"),
        (404, "not_found", "check the repository name"),
        (413, "too_large", "size limit"),
        (429, "rate_limited", "wait"),
        (500, "registry_server_error", "logs"),
    ] {
        let repo = format!("status/{status}");
        let err = with_creds.get_manifest(&repo, "1").await.unwrap_err();
        assert_eq!(err.code(), code, "{status}: {err}");
        let text = err.to_string();
        assert!(text.contains(hint), "{status}: {text}");
        assert!(
            !text.contains(secret) && !format!("{err:?}").contains(secret),
            "{status} leaked the secret: {text}"
        );
        messages.insert(text);
        // The same status on an upload gives the same kind of error.
        let data = Bytes::from_static(b"x");
        let err = client(&fake)
            .push_blob(
                &repo,
                &Digest::sha256_of(&data),
                1,
                BlobSource::Bytes(data),
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "upload {status}: {err}");
    }
    assert_eq!(messages.len(), 6, "each status must read differently");

    // A 503 with Retry-After is waited out and retried.
    let started = std::time::Instant::now();
    let patient = Client::new(
        &fake,
        ClientOptions {
            credentials: CredentialSource::None,
            retry: RetryPolicy {
                max_delay: Duration::from_secs(5),
                ..fast_retry()
            },
            ..Default::default()
        },
    )
    .unwrap();
    patient.get_manifest("flaky", "1").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After was not honoured"
    );
    assert!(!format!("{with_creds:?}").contains(secret));

    // Tags over several pages, following the Link header.
    let tags = client(&fake).tags("paged").await.unwrap();
    assert_eq!(tags.len(), 25);
    let first = client(&fake)
        .tags_page("paged", Some(10), None, None)
        .await
        .unwrap();
    assert_eq!(first.items.len(), 10);
    assert!(first.next.is_some());
}

/// A fake upload endpoint that, like a registry that keeps partial data and reports it, stores
/// half of the first PATCH that starts past the first chunk, fails it with 500, and then answers
/// the status GET with the offset it really holds.
#[derive(Default)]
struct ResumableState {
    data: Vec<u8>,
    failed_once: bool,
    patches: u32,
    bytes_received: u64,
    completed: Option<String>,
}

async fn resumable_registry() -> (String, Arc<std::sync::Mutex<ResumableState>>) {
    let state = Arc::new(std::sync::Mutex::new(ResumableState::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let shared = state.clone();
    let app = axum::Router::new()
        .fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { resumable(state, method, uri, headers, body) }
            },
        )
        // Chunks are 8 MiB; axum's default 2 MB body limit would answer 413.
        .layer(axum::extract::DefaultBodyLimit::disable());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, state)
}

fn resumable(
    state: Arc<std::sync::Mutex<ResumableState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let mut s = state.lock().unwrap();
    let path = uri.path();
    let reply = |status: StatusCode| Response::builder().status(status);
    let range = |len: usize| format!("0-{}", len.saturating_sub(1));
    match (method, path) {
        (_, "/v2/") => reply(StatusCode::OK).body(Body::empty()).unwrap(),
        (Method::HEAD, p) if p.contains("/blobs/sha256:") => {
            reply(StatusCode::NOT_FOUND).body(Body::empty()).unwrap()
        }
        (Method::POST, "/v2/resumable/blobs/uploads/") => reply(StatusCode::ACCEPTED)
            .header("location", "/v2/resumable/blobs/uploads/u1")
            .header("range", "0-0")
            .body(Body::empty())
            .unwrap(),
        (Method::PATCH, "/v2/resumable/blobs/uploads/u1") => {
            s.patches += 1;
            s.bytes_received += body.len() as u64;
            let start: usize = headers
                .get("content-range")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split('-').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(s.data.len());
            if start != s.data.len() {
                return reply(StatusCode::RANGE_NOT_SATISFIABLE)
                    .body(Body::empty())
                    .unwrap();
            }
            if start > 0 && !s.failed_once {
                s.failed_once = true;
                let half = body.len() / 2;
                s.data.extend_from_slice(&body[..half]);
                return reply(StatusCode::INTERNAL_SERVER_ERROR)
                    .body(Body::empty())
                    .unwrap();
            }
            s.data.extend_from_slice(&body);
            let len = s.data.len();
            reply(StatusCode::ACCEPTED)
                .header("location", "/v2/resumable/blobs/uploads/u1")
                .header("range", range(len))
                .body(Body::empty())
                .unwrap()
        }
        (Method::GET, "/v2/resumable/blobs/uploads/u1") => reply(StatusCode::NO_CONTENT)
            .header("location", "/v2/resumable/blobs/uploads/u1")
            .header("range", range(s.data.len()))
            .body(Body::empty())
            .unwrap(),
        (Method::PUT, "/v2/resumable/blobs/uploads/u1") => {
            let digest = uri
                .query()
                .unwrap_or("")
                .trim_start_matches("digest=")
                .to_string();
            if Digest::sha256_of(&s.data).to_string() != digest {
                return reply(StatusCode::BAD_REQUEST)
                    .body(Body::from("DIGEST_INVALID"))
                    .unwrap();
            }
            s.completed = Some(digest);
            reply(StatusCode::CREATED).body(Body::empty()).unwrap()
        }
        _ => reply(StatusCode::NOT_FOUND).body(Body::empty()).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_upload_resumes_from_the_offset_the_registry_reports() {
    let (addr, state) = resumable_registry().await;
    // 20 MiB of varied bytes: three PATCH chunks of 8 MiB.
    let data: Bytes = (0..20u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect::<Vec<u8>>()
        .into();
    let digest = Digest::sha256_of(&data);
    let uploaded = client(&addr)
        .push_blob(
            "resumable",
            &digest,
            data.len() as u64,
            BlobSource::Bytes(data.clone()),
            None,
        )
        .await;
    uploaded.unwrap();
    let s = state.lock().unwrap();
    assert!(s.failed_once, "the fake never failed a PATCH");
    assert_eq!(s.completed.as_deref(), Some(digest.to_string().as_str()));
    assert_eq!(s.data, data.to_vec());
    // Resumed, not restarted: only the unacknowledged half chunk was sent twice.
    assert_eq!(
        s.bytes_received,
        data.len() as u64 + (8 << 20) / 2,
        "{} PATCHes",
        s.patches
    );
}
