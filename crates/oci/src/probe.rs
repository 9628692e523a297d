//! The capability probe: what a registry allows, found out without changing anything.

use reqwest::{Method, StatusCode};
use serde::Serialize;

use crate::client::{AuthKind, Client, Request, Scope};
use crate::error::{Error, Result};

/// What a registry can do for us.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// `https` or `http`.
    pub scheme: String,
    pub auth: AuthKind,
    /// True when `/v2/` answered 200 with our credentials (or anonymously).
    pub authenticated: bool,
    /// `Some(false)` when the catalog is hidden; `None` when the check itself failed.
    pub catalog: Option<bool>,
    /// `Some(false)` when the registry answers 405 to deletes; `None` when we may not ask.
    pub delete: Option<bool>,
}

/// A digest nothing can have (all zeroes), so probing DELETE can never remove real content.
const NOTHING: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

impl Client {
    /// Probes the registry. Unreachable, untrusted-certificate and HTTP-only registries are
    /// errors, since nothing else can be learnt about them.
    pub async fn probe(&self) -> Result<Capabilities> {
        let base = self.base_url().await?.to_string();
        let scheme = base.split("://").next().unwrap_or("https").to_string();
        let resp = self
            .send(Request::new(Method::GET, "/v2/", Scope::none()))
            .await?;
        let authenticated = resp.status().is_success();
        let catalog = match self.catalog_page(Some(1), None, None).await {
            Ok(_) => Some(true),
            Err(Error::CatalogDisabled { .. }) => Some(false),
            Err(_) => None,
        };
        // Deleting a manifest that cannot exist tells 405 (disabled) from 404 (enabled, unknown
        // digest) without touching anything real.
        let scope = Scope::delete("slipway-probe/none");
        let delete = match self
            .send(Request::new(
                Method::DELETE,
                format!("/v2/slipway-probe/none/manifests/{NOTHING}"),
                scope,
            ))
            .await
        {
            Ok(r) if r.status() == StatusCode::METHOD_NOT_ALLOWED => Some(false),
            Ok(r) if r.status() == StatusCode::NOT_FOUND || r.status().is_success() => Some(true),
            _ => None,
        };
        Ok(Capabilities {
            scheme,
            auth: self.auth_kind(),
            authenticated,
            catalog,
            delete,
        })
    }
}
