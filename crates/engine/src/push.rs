//! The engine's own push (`POST /images/{name}/push`), with its per-layer progress.
//!
//! bollard's `push_image` decodes the engine's progress lines into a model that has no `id`, so
//! which layer a line is about is lost. On a unix socket this module sends the request itself
//! (the crate's `raw` module) and reads the lines whole as they come; on any other endpoint it falls back
//! to bollard, whose lines then name no layer.

use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::images::split_tag;
use crate::{raw, Engine, Error, Result};

/// The longest refusal read; the engine's are a few hundred bytes.
const MAX_REFUSAL: u64 = 64 << 10;

/// One line of the engine's push progress, as the engine sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushProgress {
    /// The engine's short id of the layer this line is about: the first 12 hex digits of its
    /// diff_id on a classic store, of its compressed digest on the containerd store. `None` for
    /// image-wide lines ("The push refers to repository", "1: digest: ...").
    pub layer: Option<String>,
    /// The engine's status text: "Preparing", "Waiting", "Pushing", "Pushed", "Layer already
    /// exists", "Mounted from ...".
    pub status: String,
    /// Bytes of the layer done, when the engine says.
    pub current: Option<u64>,
    /// The layer's bytes in total, when the engine says.
    pub total: Option<u64>,
}

/// A progress line as the engine writes it (`jsonmessage.JSONMessage`).
#[derive(Deserialize, Default)]
struct Line {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(rename = "progressDetail", default)]
    detail: Option<Detail>,
    #[serde(rename = "errorDetail", default)]
    error_detail: Option<ErrorDetail>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize, Default)]
struct Detail {
    current: Option<i64>,
    total: Option<i64>,
}

#[derive(Deserialize, Default)]
struct ErrorDetail {
    message: Option<String>,
}

impl Engine {
    /// Has the engine push `reference` (`host/name:tag`) to its registry, yielding its per-layer
    /// progress. The engine's in-band error ("connection refused", "denied") ends the stream with
    /// an `Err`, never a silent end.
    ///
    /// The engine reaches the registry itself, with its own TLS and credential settings; Slipway
    /// only points it at registries on 127.0.0.1, which every engine trusts over plain HTTP.
    pub fn push_image(
        &self,
        reference: &str,
    ) -> impl Stream<Item = Result<PushProgress>> + Send + 'static {
        match self.endpoint().strip_prefix("unix://") {
            Some(socket) => raw_push(socket.to_string(), reference.to_string()),
            None => self.bollard_push(reference),
        }
    }

    /// The same push through bollard, for endpoints other than a unix socket.
    fn bollard_push(&self, reference: &str) -> BoxStream<'static, Result<PushProgress>> {
        let (image, tag) = split_tag(reference);
        let options = bollard::query_parameters::PushImageOptionsBuilder::new()
            .tag(tag)
            .build();
        self.docker()
            .push_image(image, Some(options), None)
            .map(|reply| {
                let info = reply.map_err(Error::from)?;
                let detail = info.progress_detail.unwrap_or_default();
                Ok(PushProgress {
                    layer: None,
                    status: info.status.unwrap_or_default(),
                    current: detail.current.and_then(|n| u64::try_from(n).ok()),
                    total: detail.total.and_then(|n| u64::try_from(n).ok()),
                })
            })
            .boxed()
    }
}

/// The push request sent on the socket, its answer read line by line.
fn raw_push(socket: String, reference: String) -> BoxStream<'static, Result<PushProgress>> {
    futures_util::stream::once(open(socket, reference))
        .map_ok(|lines| {
            futures_util::stream::try_unfold(lines, |mut lines| async move {
                loop {
                    let Some(line) = lines.next_line().await.map_err(lost)? else {
                        return Ok(None);
                    };
                    if let Some(progress) = parse_line(&line)? {
                        return Ok(Some((progress, lines)));
                    }
                }
            })
        })
        .try_flatten()
        .boxed()
}

type Lines = tokio::io::Lines<BufReader<tokio::net::UnixStream>>;

/// Sends the request and reads the answer's head; a status other than 200 is the engine's
/// refusal, with the message from its body.
async fn open(socket: String, reference: String) -> Result<Lines> {
    let (image, tag) = split_tag(&reference);
    // The reference goes into the path and the query as it is, so it must need no escaping;
    // core only pushes names it made itself from the distribution grammar.
    let plain = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:/".contains(&b))
    };
    if !plain(image) || !plain(tag) {
        return Err(Error::InvalidInput(format!(
            "cannot push {reference}: the engine's push takes a plain host/name:tag"
        )));
    }
    let path = format!("/images/{image}/push?tag={tag}");
    let (status, mut reader) = raw::stream(&socket, "POST", &path, "X-Registry-Auth: e30=\r\n")
        .await
        .map_err(|e| Error::Disconnected {
            message: format!("{socket}: {e}"),
        })?;
    if status != 200 {
        let mut body = String::new();
        let _ = (&mut reader)
            .take(MAX_REFUSAL)
            .read_to_string(&mut body)
            .await;
        return Err(refusal(status, &body));
    }
    Ok(reader.lines())
}

/// The engine's answer to a request it refused, as bollard would have reported it.
fn refusal(status: u16, body: &str) -> Error {
    #[derive(Deserialize)]
    struct Message {
        message: String,
    }
    let message = serde_json::from_str::<Message>(body.trim())
        .map(|m| m.message)
        .unwrap_or_else(|_| body.trim().to_string());
    match status {
        404 => Error::NotFound { message },
        409 => Error::Conflict { message },
        status => Error::Refused { status, message },
    }
}

/// A progress line as [`PushProgress`]; `None` for lines that say nothing (blank, aux-only); an
/// in-band error is the stream's `Err`.
fn parse_line(line: &str) -> Result<Option<PushProgress>> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let parsed: Line = serde_json::from_str(line).map_err(|e| Error::Stream {
        message: format!("the engine sent an unreadable push progress line ({e}): {line}"),
    })?;
    if let Some(message) = parsed
        .error_detail
        .and_then(|d| d.message)
        .or(parsed.error)
        .filter(|m| !m.is_empty())
    {
        return Err(Error::Stream { message });
    }
    let Some(status) = parsed.status else {
        return Ok(None);
    };
    let detail = parsed.detail.unwrap_or_default();
    Ok(Some(PushProgress {
        layer: parsed.id.filter(|id| !id.is_empty()),
        status,
        current: detail.current.and_then(|n| u64::try_from(n).ok()),
        total: detail
            .total
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| *n > 0),
    }))
}

fn lost(error: std::io::Error) -> Error {
    Error::Disconnected {
        message: format!("the engine's push progress broke off: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_lines_keep_their_layer_ids() {
        let pushing = parse_line(
            r#"{"status":"Pushing","progressDetail":{"current":33280,"total":2000000},"progress":"[>   ]","id":"91a48b9636e2"}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            pushing,
            PushProgress {
                layer: Some("91a48b9636e2".into()),
                status: "Pushing".into(),
                current: Some(33280),
                total: Some(2_000_000),
            }
        );
        let wide = parse_line(r#"{"status":"The push refers to repository [127.0.0.1:5099/x]"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(wide.layer, None);
        // The digest line's aux twin has no status.
        assert_eq!(
            parse_line(
                r#"{"progressDetail":{},"aux":{"Tag":"1","Digest":"sha256:97","Size":950}}"#
            )
            .unwrap(),
            None
        );
    }

    #[test]
    fn an_in_band_error_ends_the_push_with_its_message() {
        let error = parse_line(
            r#"{"errorDetail":{"message":"tag does not exist: x:1"},"error":"tag does not exist: x:1"}"#,
        )
        .unwrap_err();
        assert!(matches!(error, Error::Stream { message } if message == "tag does not exist: x:1"));
    }

    #[test]
    fn a_refused_request_keeps_the_engines_message() {
        let error = refusal(404, r#"{"message":"No such image: x:1"}"#);
        assert!(matches!(error, Error::NotFound { message } if message == "No such image: x:1"));
        assert!(matches!(
            refusal(500, "boom"),
            Error::Refused { status: 500, .. }
        ));
    }
}
