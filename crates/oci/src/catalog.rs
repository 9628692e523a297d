//! `GET /v2/_catalog` and `GET /v2/<name>/tags/list`, following every page.
//!
//! The spec's pagination: the client asks for `n` entries after `last`; when more remain, the
//! registry MUST send a `Link: <url>; rel="next"` header, and the client follows it as given.
//! A registry is not trusted to end: a `next` seen before, or more than [`MAX_PAGES`] pages,
//! stops the listing with [`Error::EndlessPages`], and each page body is read up to
//! [`MAX_PAGE_BODY`].

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::client::{next_link, Client, Request, Scope};
use crate::error::{Error, Result};

/// The largest page the reference registry accepts (it answers 400 above 1000), so that a full
/// listing takes as few round trips as possible.
pub const MAX_PAGE: usize = 1000;

/// The most pages one listing follows: a million names at the reference registry's page size,
/// far more than the catalog or tag list any registry really has.
pub const MAX_PAGES: usize = 1000;

/// The most one page's body may weigh: 1000 names of at most 255 characters, quoted, are under
/// 300 KB, so 4 MiB (containers/image's limit for manifests) leaves a wide margin.
pub const MAX_PAGE_BODY: u64 = 4 << 20;

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
        let body = self
            .read_capped(resp, MAX_PAGE_BODY, "a catalog page")
            .await?;
        let body: CatalogBody = serde_json::from_slice(&body)
            .map_err(|e| self.protocol(format!("catalog body: {e}")))?;
        Ok(Page {
            items: body.repositories.unwrap_or_default(),
            next,
        })
    }

    /// Every repository in the registry, all pages.
    pub async fn catalog(&self) -> Result<Vec<String>> {
        let mut all = Vec::new();
        let mut pages = Pages::new(self, "the catalog");
        let mut page = self.catalog_page(Some(MAX_PAGE), None, None).await?;
        loop {
            all.append(&mut page.items);
            let Some(next) = pages.next(page.next.take())? else {
                break;
            };
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
        let body = self
            .read_capped(resp, MAX_PAGE_BODY, "a tag list page")
            .await?;
        let body: TagsBody =
            serde_json::from_slice(&body).map_err(|e| self.protocol(format!("tags body: {e}")))?;
        Ok(Page {
            items: body.tags.unwrap_or_default(),
            next,
        })
    }

    /// Every tag of `repository`, all pages.
    pub async fn tags(&self, repository: &str) -> Result<Vec<String>> {
        let mut all = Vec::new();
        let what = format!("the tags of {repository}");
        let mut pages = Pages::new(self, &what);
        let mut page = self
            .tags_page(repository, Some(MAX_PAGE), None, None)
            .await?;
        loop {
            all.append(&mut page.items);
            let Some(next) = pages.next(page.next.take())? else {
                break;
            };
            page = self.tags_page(repository, None, None, Some(&next)).await?;
        }
        Ok(all)
    }
}

/// The `next` links one listing has followed, to stop one that never ends.
struct Pages<'a> {
    client: &'a Client,
    what: &'a str,
    seen: HashSet<String>,
}

impl<'a> Pages<'a> {
    fn new(client: &'a Client, what: &'a str) -> Pages<'a> {
        Pages {
            client,
            what,
            seen: HashSet::new(),
        }
    }

    /// The link to follow, `None` at the end, or an error for a loop or too many pages.
    fn next(&mut self, link: Option<String>) -> Result<Option<String>> {
        let Some(link) = link else { return Ok(None) };
        let endless = |detail: String| Error::EndlessPages {
            registry: self.client.registry().to_string(),
            what: self.what.to_string(),
            detail,
        };
        if self.seen.len() + 1 >= MAX_PAGES {
            return Err(endless(format!("more than {MAX_PAGES} pages")));
        }
        if !self.seen.insert(link.clone()) {
            return Err(endless(format!("the next-page link {link} came twice")));
        }
        Ok(Some(link))
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
