//! Registries Slipway serves on 127.0.0.1 so that the engine moves images itself, with its own
//! incremental, pipelined transfers, while Slipway talks to the real registry.
//!
//! Every engine trusts 127.0.0.0/8 over plain HTTP without daemon.json (moby
//! `registry/config.go`, containerd `hosts.go`), so a relay there needs no engine configuration,
//! and the real registry can be HTTPS with a private CA, need credentials, or be HTTP elsewhere:
//! that is Slipway's client's business. [`push`] takes the engine's push to the real registry;
//! [`pull`] serves a verified image from the real registry to the engine's pull.
//!
//! Only what [the distribution spec](https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md)
//! asks of a registry for those two flows is served.

mod hub;
pub(crate) mod pull;
pub(crate) mod push;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use slipway_oci::Digest;

/// The port both relays listen on unless `SLIPWAY_RELAY_PORT` says otherwise. Engines remember
/// where a layer is by registry host and port: moby mounts a layer it pulled or pushed only from
/// a repository of the same host:port, Podman's blob info cache offers a location only there.
/// With one port for the push and the pull relay, a layer the engine pulled through Slipway is
/// one it can mount, not send again, when it pushes an image built on it.
const PORT: u16 = 5099;

/// The relays' port: [`PORT`] unless `SLIPWAY_RELAY_PORT` says otherwise (0 for any free one).
/// Transfers at once share it ([`hub`]).
fn port() -> u16 {
    std::env::var("SLIPWAY_RELAY_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(PORT)
}

/// The parts of a `/v2/...` path.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Base,
    Blob(&'a str),
    Uploads,
    Upload(&'a str),
    Manifest(&'a str),
    Unknown,
}

/// Splits a request path; the repository name (which may hold slashes) is [`repository`]'s
/// business, which finds the transfer that serves it.
fn route(path: &str) -> Route<'_> {
    let Some(rest) = path.strip_prefix("/v2/") else {
        return Route::Unknown;
    };
    if rest.is_empty() {
        return Route::Base;
    }
    if let Some(i) = rest.rfind("/blobs/uploads/") {
        let id = &rest[i + "/blobs/uploads/".len()..];
        return if id.is_empty() {
            Route::Uploads
        } else {
            Route::Upload(id)
        };
    }
    if let Some(i) = rest.rfind("/blobs/") {
        return Route::Blob(&rest[i + "/blobs/".len()..]);
    }
    if let Some(i) = rest.rfind("/manifests/") {
        return Route::Manifest(&rest[i + "/manifests/".len()..]);
    }
    Route::Unknown
}

/// The repository a request path names: what comes between `/v2/` and its last `/blobs/` or
/// `/manifests/` (a repository name may hold those words as components, a digest, an upload id
/// or a tag never holds a slash).
fn repository(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v2/")?;
    let end = match (rest.rfind("/blobs/"), rest.rfind("/manifests/")) {
        (Some(b), Some(m)) => b.max(m),
        (Some(i), None) | (None, Some(i)) => i,
        (None, None) => return None,
    };
    Some(&rest[..end]).filter(|r| !r.is_empty())
}

type Outcome = crate::Result<Response>;

/// Bodies arrive in frames of ~16-20 KiB (the engine's upload, the registry's blob), and each
/// would become a write of its own on the way out. Frames that are already waiting are joined
/// into one, up to 16 of them, which cuts the system calls of the relay and of whoever reads
/// from it about tenfold; a frame is never held back to wait for the next, so nothing is late.
/// Measured on Podman's cold push of the bench image, three runs each, alternating: 8.4 s on
/// average before, 8.05 s after (podman push alone: 7.1-7.3 s).
fn coalesce<S>(frames: S) -> impl futures_util::Stream<Item = slipway_oci::Result<bytes::Bytes>>
where
    S: futures_util::Stream<Item = slipway_oci::Result<bytes::Bytes>>,
{
    use futures_util::StreamExt;
    frames.ready_chunks(16).map(|ready| {
        if ready.len() == 1 {
            return ready.into_iter().next().expect("one frame");
        }
        let mut joined = bytes::BytesMut::new();
        for frame in ready {
            joined.extend_from_slice(&frame?);
        }
        Ok(joined.freeze())
    })
}

fn reply(status: StatusCode, headers: &[(&'static str, String)], body: Body) -> Response {
    let mut response = (status, body).into_response();
    let map: &mut HeaderMap = response.headers_mut();
    map.insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            map.insert(*name, value);
        }
    }
    response
}

/// A name for the image at a relay listening on `addr`, unique to this process and moment: the
/// engine is given it for one push or pull, and it is removed after.
pub(crate) fn temporary_name(addr: std::net::SocketAddr, repository: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tag = format!("slipway-{}-{nanos}", std::process::id());
    format!("127.0.0.1:{}/{repository}:{tag}", addr.port())
}

/// What the engine is told when the real registry refused or failed: the status and code a
/// registry would give, so that the engine gives up at once on refused credentials (it retries
/// only what may pass on a second try).
fn failure_response(error: &crate::Error) -> Response {
    use slipway_oci::Error as Oci;
    let (status, code) = match error {
        crate::Error::Registry(Oci::Unauthorized { .. }) => {
            (StatusCode::UNAUTHORIZED, "UNAUTHORIZED")
        }
        crate::Error::Registry(Oci::Denied { .. }) => (StatusCode::FORBIDDEN, "DENIED"),
        crate::Error::Registry(Oci::NotFound { .. }) => (StatusCode::NOT_FOUND, "NAME_UNKNOWN"),
        _ => (StatusCode::BAD_GATEWAY, "UNKNOWN"),
    };
    let body = serde_json::json!({"errors": [{"code": code, "message": error.to_string()}]});
    reply(
        status,
        &[("content-type", "application/json".to_string())],
        Body::from(body.to_string()),
    )
}

fn not_found(code: &str) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": "not known to the relay"}]});
    reply(
        StatusCode::NOT_FOUND,
        &[("content-type", "application/json".to_string())],
        Body::from(body.to_string()),
    )
}

fn parse_digest(text: &str) -> crate::Result<Digest> {
    Digest::parse(text).map_err(|e| crate::Error::InvalidInput(format!("digest {text}: {e}")))
}

/// A query parameter's value, percent-decoded (engines send `digest=sha256%3A...`).
fn query_value(query: &str, key: &str) -> Option<String> {
    let raw = query
        .split('&')
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))?;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_what_the_relay_serves() {
        assert_eq!(route("/v2/"), Route::Base);
        assert_eq!(
            route("/v2/team/app/blobs/sha256:ab"),
            Route::Blob("sha256:ab")
        );
        assert_eq!(route("/v2/team/app/blobs/uploads/"), Route::Uploads);
        assert_eq!(
            route("/v2/team/app/blobs/uploads/slipway-3"),
            Route::Upload("slipway-3")
        );
        assert_eq!(route("/v2/a/manifests/latest"), Route::Manifest("latest"));
        assert_eq!(route("/other"), Route::Unknown);
        assert_eq!(repository("/v2/team/app/blobs/uploads/"), Some("team/app"));
        assert_eq!(
            repository("/v2/team/app/blobs/uploads/slipway-3"),
            Some("team/app")
        );
        assert_eq!(
            repository("/v2/a/blobs/b/blobs/sha256:ab"),
            Some("a/blobs/b")
        );
        assert_eq!(repository("/v2/a/manifests/latest"), Some("a"));
        assert_eq!(repository("/v2/"), None);
        assert_eq!(repository("/v2/a/tags/list"), None);
        assert_eq!(
            query_value("mount=sha256%3Ax&from=a%2Fb", "from").as_deref(),
            Some("a/b")
        );
        assert_eq!(
            query_value("digest=sha256%3Aab", "digest").as_deref(),
            Some("sha256:ab")
        );
        assert_eq!(query_value("digest=sha256:x", "mount"), None);
    }
}
