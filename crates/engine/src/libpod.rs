//! The two libpod endpoints Slipway needs beyond Podman's Docker-compatible API: its own push and
//! pull, which can be told per request to use plain HTTP (`tlsVerify=false`), so Podman can push
//! to and pull from Slipway's relay on 127.0.0.1 as Docker does without configuration. (Podman's
//! Docker-compatible pull has no such switch, and 127.0.0.0/8 is not insecure to it by default.)
//!
//! bollard only speaks the Docker API, so each is one request of the crate's `raw` module.

use crate::{Engine, Error, Result};

impl Engine {
    /// Has Podman push the local image `reference` to `reference` itself (libpod `images/push`,
    /// [API](https://docs.podman.io/en/v4.3/_static/api.html#tag/images/operation/ImagePushLibpod)),
    /// allowing plain HTTP; Podman sends only the layers the registry lacks.
    pub async fn podman_push(&self, reference: &str) -> Result<()> {
        let name = encode(reference);
        self.libpod_post(&format!(
            "images/{name}/push?destination={name}&tlsVerify=false&quiet=true"
        ))
        .await
        .map(drop)
    }

    /// Has Podman pull `reference` itself (libpod `images/pull`,
    /// [API](https://docs.podman.io/en/v4.3/_static/api.html#tag/images/operation/ImagePullLibpod)),
    /// allowing plain HTTP; Podman downloads layers in parallel and unpacks each as it arrives.
    /// Returns the lines Podman reported.
    pub async fn podman_pull(&self, reference: &str) -> Result<Vec<String>> {
        let name = encode(reference);
        let body = self
            .libpod_post(&format!(
                "images/pull?reference={name}&tlsVerify=false&quiet=true&policy=always"
            ))
            .await?;
        Ok(body
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|v| v.get("stream").and_then(|s| s.as_str()).map(str::to_string))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect())
    }

    /// POSTs to a libpod endpoint and returns the body of a 200 that reports no error; errors
    /// after the 200 arrive in the body as JSON lines with an `error` field.
    async fn libpod_post(&self, path_and_query: &str) -> Result<String> {
        let socket = self.endpoint().strip_prefix("unix://").ok_or_else(|| {
            Error::InvalidInput(format!(
                "Podman's own push and pull need its unix socket; the engine is at {}",
                self.endpoint()
            ))
        })?;
        let answer = crate::raw::request(
            socket,
            "POST",
            &format!("/v4.0.0/libpod/{path_and_query}"),
            "X-Registry-Auth: e30=\r\n",
        )
        .await
        .map_err(|e| Error::Disconnected {
            message: format!("{socket}: {e}"),
        })?;
        if answer.status != 200 {
            return Err(Error::Refused {
                status: answer.status,
                message: answer.body.trim().to_string(),
            });
        }
        for line in answer.body.lines() {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(line) {
                if let Some(error) = value.get("error").and_then(|e| e.as_str()) {
                    if !error.is_empty() {
                        return Err(Error::Stream {
                            message: error.to_string(),
                        });
                    }
                }
            }
        }
        Ok(answer.body)
    }
}

/// Percent-encodes a reference for a path segment and a query value.
fn encode(reference: &str) -> String {
    reference
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn references_are_encoded_for_paths_and_queries() {
        assert_eq!(
            super::encode("127.0.0.1:5099/team/app:tag"),
            "127.0.0.1%3A5099%2Fteam%2Fapp%3Atag"
        );
    }
}
