//! `GET /v2/_catalog` and `GET /v2/<name>/tags/list`, following every page.
//!
//! The spec's pagination: the client asks for `n` entries after `last`; when more remain, the
//! registry MUST send a `Link: <url>; rel="next"` header, and the client follows it as given.

use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::client::{next_link, Client, Request, Scope};
use crate::error::{Error, Result};

/// The largest page the reference registry accepts (it answers 400 above 1000), so that a full
/// listing takes as few round trips as possible.
pub const MAX_PAGE: usize = 1000;

/// One page of a listing and where the next one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<String>,
    /// The URL of the next page from the Link header; `None` on the last page.
    pub next: Option<String>,
}

#[derive(Deserialize)]
struct CatalogBody {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TagsBody {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl Client {
    /// One page of the catalog: `n` names after `last` (or the page at `next`, a Link target).
    pub async fn catalog_page(
        &self,
        n: Option<usize>,
        last: Option<&str>,
        next: Option<&str>,
    ) -> Result<Page> {
        let url = match next {
            Some(next) => next.to_string(),
            None => list_url("/v2/_catalog", n, last),
        };
        let scope = Scope::catalog();
        let resp = self
            .send(Request::new(Method::GET, url, scope.clone()))
            .await?;
        match resp.status() {
            s if s.is_success() => {}
            // A registry that hides its catalog answers 404 (or 401/403 when auth forbids it).
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                return Err(Error::CatalogDisabled {
                    registry: self.registry().to_string(),
                })
            }
            _ => return Err(self.status_error(resp, "the catalog", &scope).await),
        }
        let next = next_link(resp.headers());
        let body: CatalogBody = resp
            .json()
            .await
            .map_err(|e| self.protocol(format!("catalog body: {e}")))?;
        Ok(Page {
            items: body.repositories.unwrap_or_default(),
            next,
        })
    }

    /// Every repository in the registry, all pages.
    pub async fn catalog(&self) -> Result<Vec<String>> {
        let mut all = Vec::new();
        let mut page = self.catalog_page(Some(MAX_PAGE), None, None).await?;
        loop {
            all.append(&mut page.items);
            let Some(next) = page.next.take() else { break };
            page = self.catalog_page(None, None, Some(&next)).await?;
        }
        Ok(all)
    }

    /// One page of a repository's tags.
    pub async fn tags_page(
        &self,
        repository: &str,
        n: Option<usize>,
        last: Option<&str>,
        next: Option<&str>,
    ) -> Result<Page> {
        crate::reference::validate_repository(repository)?;
        let url = match next {
            Some(next) => next.to_string(),
            None => list_url(&format!("/v2/{repository}/tags/list"), n, last),
        };
        let scope = Scope::pull(repository);
        let resp = self
            .send(Request::new(Method::GET, url, scope.clone()))
            .await?;
        if !resp.status().is_success() {
            return Err(self
                .status_error(resp, &format!("repository {repository}"), &scope)
                .await);
        }
        let next = next_link(resp.headers());
        let body: TagsBody = resp
            .json()
            .await
            .map_err(|e| self.protocol(format!("tags body: {e}")))?;
        Ok(Page {
            items: body.tags.unwrap_or_default(),
            next,
        })
    }

    /// Every tag of `repository`, all pages.
    pub async fn tags(&self, repository: &str) -> Result<Vec<String>> {
        let mut all = Vec::new();
        let mut page = self
            .tags_page(repository, Some(MAX_PAGE), None, None)
            .await?;
        loop {
            all.append(&mut page.items);
            let Some(next) = page.next.take() else { break };
            page = self.tags_page(repository, None, None, Some(&next)).await?;
        }
        Ok(all)
    }
}

fn list_url(path: &str, n: Option<usize>, last: Option<&str>) -> String {
    let mut query = Vec::new();
    if let Some(n) = n {
        query.push(format!("n={n}"));
    }
    if let Some(last) = last {
        query.push(format!("last={}", urlencode(last)));
    }
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Repository names and tags only contain `[a-z0-9._/-]` and `[A-Za-z0-9_.-]`, so only `/` needs
/// escaping to be safe in a query.
fn urlencode(s: &str) -> String {
    s.replace('/', "%2F")
}
