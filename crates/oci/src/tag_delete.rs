//! Deleting a tag by name, which the distribution spec allows but does not require.
//!
//! The [spec](https://github.com/opencontainers/distribution-spec/blob/main/spec.md#deleting-tags)
//! deletes a tag with `DELETE /v2/<name>/manifests/<tag>`: "Upon success, the registry MUST
//! respond with a 202 Accepted code. If tag deletion is disabled, the registry MUST respond with
//! either a 400 Bad Request or a 405 Method Not Allowed." The reference registry 2.x answers 400
//! `DIGEST_INVALID`, so a refusal is an answer the caller acts on, not an error.

use reqwest::{Method, StatusCode};

use crate::client::{Request, Scope};
use crate::reference::{validate_repository, validate_tag};
use crate::{Client, Error, Result};

/// What the registry did with a tag DELETE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagDelete {
    /// The tag is gone; the manifest and any other tag on it stay.
    Deleted,
    /// The registry deletes by digest only (400 or 405 to a tag); nothing changed.
    Unsupported,
}

impl Client {
    /// Asks the registry to delete `tag` alone. A 404 is an error (the tag does not exist); a 400
    /// or 405 is [`TagDelete::Unsupported`], since both are how registries refuse tag deletes.
    pub async fn delete_tag(&self, repository: &str, tag: &str) -> Result<TagDelete> {
        validate_repository(repository)?;
        validate_tag(tag)?;
        let scope = Scope::delete(repository);
        let resp = self
            .send(Request::new(
                Method::DELETE,
                format!("/v2/{repository}/manifests/{tag}"),
                scope.clone(),
            ))
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(TagDelete::Deleted),
            StatusCode::BAD_REQUEST | StatusCode::METHOD_NOT_ALLOWED => Ok(TagDelete::Unsupported),
            StatusCode::NOT_FOUND => Err(Error::NotFound {
                registry: self.registry().to_string(),
                what: format!("tag {repository}:{tag}"),
            }),
            _ => Err(self
                .status_error(resp, &format!("tag {repository}:{tag}"), &scope)
                .await),
        }
    }
}
