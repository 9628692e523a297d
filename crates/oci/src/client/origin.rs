//! Where a request may go and what goes with it: a registry-supplied URL is resolved against the
//! registry's base and gets credentials only on the registry's own scheme, host and port; nothing
//! leads from HTTPS to plain HTTP, neither a URL nor a redirect.

use reqwest::Url;

use super::Client;
use crate::error::{Error, Result};

/// How many redirects one request follows, as reqwest's default policy does.
const MAX_REDIRECTS: usize = 10;

/// Where a request goes, and whether our credentials may go with it.
pub(super) struct Target {
    pub(super) url: Url,
    pub(super) same_origin: bool,
}

impl Client {
    /// Resolves a path or a registry-supplied URL (Location, Link) against the registry's base
    /// URL, as RFC 9110 resolves a Location. A URL that would take us from HTTPS to plain HTTP is
    /// refused; one on another scheme, host or port is allowed (registries hand out upload URLs on
    /// storage hosts) but gets no credentials.
    pub(super) async fn target(&self, url: &str, what: &str) -> Result<Target> {
        let base = Url::parse(self.base_url().await?)
            .map_err(|e| self.protocol(format!("the registry's base URL: {e}")))?;
        let resolved = base
            .join(url)
            .map_err(|e| self.protocol(format!("{what} `{url}` is not a URL: {e}")))?;
        if !matches!(resolved.scheme(), "http" | "https") {
            return Err(self.protocol(format!("{what} `{url}` is not an HTTP URL")));
        }
        if base.scheme() == "https" && resolved.scheme() == "http" {
            return Err(Error::InsecureUrl {
                registry: self.inner.registry.clone(),
                what: what.to_string(),
                target: origin(&resolved),
            });
        }
        let same_origin = resolved.scheme() == base.scheme()
            && resolved.host_str() == base.host_str()
            && resolved.port_or_known_default() == base.port_or_known_default();
        Ok(Target {
            url: resolved,
            same_origin,
        })
    }
}

/// Follows redirects (blob downloads go to storage hosts), at most [`MAX_REDIRECTS`], but never
/// from HTTPS to HTTP: reqwest drops Authorization only when the host or port changes, so a
/// same-host downgrade would send the credentials in clear text.
pub(super) fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let downgrade = attempt.url().scheme() == "http"
            && attempt
                .previous()
                .iter()
                .any(|previous| previous.scheme() == "https");
        if downgrade {
            let refused = RefusedRedirect(origin(attempt.url()));
            attempt.error(refused)
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    })
}

/// The error our redirect policy returns for an HTTPS to HTTP redirect.
#[derive(Debug)]
struct RefusedRedirect(String);

impl std::fmt::Display for RefusedRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused a redirect from HTTPS to {}", self.0)
    }
}

impl std::error::Error for RefusedRedirect {}

/// The target of a redirect our policy refused, from anywhere in the error's chain.
pub(super) fn refused_redirect(e: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<RefusedRedirect>() {
            return Some(refused.0.clone());
        }
        source = err.source();
    }
    None
}

/// `scheme://host:port` of a URL, for messages: a registry-made URL's path and query may carry
/// a token or a presigned signature.
pub(super) fn origin(url: &Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    )
}
