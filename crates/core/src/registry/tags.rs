//! The tag table: every tag with what its manifest says, in one of three orders, a page at a time.
//!
//! The sort lives here so that `slipway tags --sort` and the registry browser agree. Dates come
//! from the image config's `created`, the only creation time a registry keeps (the spec's tag list
//! is "in lexical order" at best, and the reference registry 2.x returns its storage's order).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use ts_rs::TS;

use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{inspect, parse, tags, RegistryAccess};
use crate::Result;

/// A tag with what its manifest says, for the registry browser's tag table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TagRow {
    pub tag: String,
    pub digest: Option<String>,
    pub size: Option<u64>,
    pub created: Option<String>,
    pub platforms: Vec<String>,
    /// Why the details are missing, when this tag's manifest could not be read. One unreadable
    /// tag must not hide the others, so its error stays in its row.
    pub error: Option<String>,
}

/// How the tag table is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TagSort {
    /// Newest first by the config's `created`; tags without a date last, then by version.
    #[default]
    Date,
    /// Ascending by version, numbers compared as numbers (1.9, 1.10, 2.0-rc1, 2.0); tags that
    /// are not versions (`latest`, `main`) after every version, by name.
    Version,
    /// A to Z, byte order.
    Name,
}

impl std::str::FromStr for TagSort {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<TagSort> {
        match s {
            "date" => Ok(TagSort::Date),
            "version" => Ok(TagSort::Version),
            "name" => Ok(TagSort::Name),
            other => Err(crate::Error::InvalidInput(format!(
                "unknown tag order `{other}`; use date, version or name"
            ))),
        }
    }
}

/// One screen of the tag table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TagPage {
    pub rows: Vec<TagRow>,
    /// How many tags the repository has in all.
    pub total: usize,
    /// The offset of the next page, when there is one.
    pub next_offset: Option<usize>,
    /// Why the repository shows no tag, when it has none (see [`EMPTY_REPOSITORY`]).
    pub empty: Option<String>,
}

/// What an empty repository means. The reference registry keeps a repository's directory, and so
/// its name in the catalog, after its last tag is deleted; people otherwise see a blank entry.
pub const EMPTY_REPOSITORY: &str = "This repository has no tags left: its last tag was deleted. \
The registry keeps listing a repository once it has existed (distribution keeps its directory even \
after garbage collection); its layers are freed by garbage collection, and the name leaves the \
catalog only when the registry's operator removes docker/registry/v2/repositories/<name> from its \
storage. Push a tag to use it again.";

/// Manifests read at once: enough to hide latency, few enough not to look like a flood to a
/// rate-limiting registry.
const TAG_DETAILS_IN_FLIGHT: usize = 4;

/// What each manifest already read said, by `registry/repository@digest`. A digest names the
/// manifest's bytes, and those name the config's, so what they say cannot change: later pages by
/// date, and a repository opened again, only ask each tag's digest (a HEAD). Forgotten whole
/// when it grows past [`READ_REMEMBERED`], so browsing many registries never grows it without end.
static READ: LazyLock<Mutex<HashMap<String, TagRow>>> = LazyLock::new(Default::default);
const READ_REMEMBERED: usize = 20_000;

fn remembered(base: &str, digest: &str) -> Option<TagRow> {
    READ.lock()
        .expect("tag details lock")
        .get(&format!("{base}@{digest}"))
        .cloned()
}

fn remember(base: &str, row: &TagRow) {
    let Some(digest) = row.digest.as_ref().filter(|_| row.error.is_none()) else {
        return;
    };
    let mut read = READ.lock().expect("tag details lock");
    if read.len() >= READ_REMEMBERED {
        read.clear();
    }
    read.insert(format!("{base}@{digest}"), row.clone());
}

/// Every tag of a repository (`host/repo`) with its details, in `sort` order.
pub async fn tag_rows(repository: &str, access: &RegistryAccess) -> Result<Vec<TagRow>> {
    let page = tag_page(repository, access, TagSort::Date, 0, usize::MAX).await?;
    Ok(page.rows)
}

/// The tags from `offset`, at most `limit`, in `sort` order, each with digest, size, created and
/// platforms.
///
/// By name or version, only the page's tags are read (one manifest and one config each), so a
/// repository with thousands of tags opens as fast as one with a hundred. By date every tag must
/// be dated first: each tag's digest is asked with a HEAD and each distinct manifest is read
/// once, since tags that share a digest share a date, and never again in this process (see
/// `READ`), so later pages cost only the HEADs.
pub async fn tag_page(
    repository: &str,
    access: &RegistryAccess,
    sort: TagSort,
    offset: usize,
    limit: usize,
) -> Result<TagPage> {
    let repo = parse(repository)?;
    let base = format!("{}/{}", repo.registry(), repo.repository());
    let names = tags(repository, access).await?;
    let total = names.len();
    let mut cache: HashMap<String, TagRow> = HashMap::new();
    let ordered: Vec<String> = match sort {
        TagSort::Date => {
            let rows = rows_by_digest(&base, names, access).await;
            let mut rows: Vec<TagRow> = rows;
            sort_rows(&mut rows, sort);
            let order = rows.iter().map(|r| r.tag.clone()).collect();
            cache.extend(rows.into_iter().map(|r| (r.tag.clone(), r)));
            order
        }
        _ => {
            let mut names = names;
            sort_names(&mut names, sort);
            names
        }
    };
    let end = offset.saturating_add(limit).min(total);
    let page: Vec<String> = ordered
        .get(offset.min(total)..end)
        .unwrap_or_default()
        .to_vec();
    let missing: Vec<String> = page
        .iter()
        .filter(|t| !cache.contains_key(*t))
        .cloned()
        .collect();
    for row in detail_rows(&base, missing, access).await {
        cache.insert(row.tag.clone(), row);
    }
    let rows = page.iter().filter_map(|t| cache.remove(t)).collect();
    Ok(TagPage {
        rows,
        total,
        next_offset: (end < total).then_some(end),
        empty: (total == 0).then(|| EMPTY_REPOSITORY.to_string()),
    })
}

/// Each tag read on its own, concurrently, in the order given.
async fn detail_rows(base: &str, names: Vec<String>, access: &RegistryAccess) -> Vec<TagRow> {
    stream::iter(names)
        .map(|tag| async move { row_of(&format!("{base}:{tag}"), tag, access).await })
        .buffered(TAG_DETAILS_IN_FLIGHT)
        .collect()
        .await
}

/// Every tag dated: one HEAD per tag, one read per distinct digest.
async fn rows_by_digest(base: &str, names: Vec<String>, access: &RegistryAccess) -> Vec<TagRow> {
    let target = parse(base).ok().and_then(|r| {
        Some((
            r.repository().to_string(),
            access.client(r.registry()).ok()?,
        ))
    });
    let Some((repository, client)) = target else {
        return detail_rows(base, names, access).await;
    };
    let repository = repository.as_str();
    let heads: Vec<(String, Option<String>)> = stream::iter(names)
        .map(|tag| {
            let client = client.clone();
            async move {
                let digest = client
                    .head_manifest(repository, &tag)
                    .await
                    .ok()
                    .flatten()
                    .map(|h| h.digest.to_string());
                (tag, digest)
            }
        })
        .buffered(TAG_DETAILS_IN_FLIGHT * 2)
        .collect()
        .await;
    let mut first_tag: HashMap<String, String> = HashMap::new();
    for (tag, digest) in &heads {
        if let Some(d) = digest {
            first_tag.entry(d.clone()).or_insert_with(|| tag.clone());
        }
    }
    let mut read: HashMap<String, TagRow> = HashMap::new();
    let mut unknown = Vec::new();
    for (digest, tag) in &first_tag {
        match remembered(base, digest) {
            Some(row) => {
                read.insert(tag.clone(), row);
            }
            None => unknown.push(tag.clone()),
        }
    }
    for row in detail_rows(base, unknown, access).await {
        remember(base, &row);
        read.insert(row.tag.clone(), row);
    }
    let mut rows = Vec::with_capacity(heads.len());
    let mut unread = Vec::new();
    for (tag, digest) in heads {
        match digest
            .and_then(|d| first_tag.get(&d))
            .and_then(|t| read.get(t))
        {
            Some(row) => rows.push(TagRow { tag, ..row.clone() }),
            None => unread.push(tag),
        }
    }
    // A tag whose HEAD failed is read in full, so its row carries the registry's own error.
    rows.extend(detail_rows(base, unread, access).await);
    rows
}

async fn row_of(reference: &str, tag: String, access: &RegistryAccess) -> TagRow {
    match inspect(reference, access, None).await {
        Ok(d) => TagRow {
            tag,
            digest: Some(d.digest),
            size: Some(d.total_size),
            created: d.created,
            platforms: if d.platforms.is_empty() {
                d.platform.into_iter().collect()
            } else {
                d.platforms
            },
            error: None,
        },
        Err(e) => TagRow {
            tag,
            digest: None,
            size: None,
            created: None,
            platforms: vec![],
            error: Some(e.to_string()),
        },
    }
}

/// Sorts rows in `sort` order; by date, newest first, undated last.
pub fn sort_rows(rows: &mut [TagRow], sort: TagSort) {
    match sort {
        TagSort::Date => rows.sort_by(|a, b| {
            let (da, db) = (date_of(a.created.as_deref()), date_of(b.created.as_deref()));
            match (da, db) {
                (Some(x), Some(y)) => y.cmp(&x),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
            .then_with(|| compare_versions(&a.tag, &b.tag))
        }),
        _ => rows.sort_by(|a, b| compare(&a.tag, &b.tag, sort)),
    }
}

/// Sorts bare tag names by version or name (a date needs the rows, see [`sort_rows`]).
pub fn sort_names(names: &mut [String], sort: TagSort) {
    names.sort_by(|a, b| compare(a, b, sort));
}

fn compare(a: &str, b: &str, sort: TagSort) -> Ordering {
    match sort {
        TagSort::Name => a.cmp(b),
        _ => compare_versions(a, b),
    }
}

/// `created` as a point in time; RFC 3339 strings with different fractional digits do not
/// compare as text, so they are parsed.
pub(crate) fn date_of(created: Option<&str>) -> Option<OffsetDateTime> {
    created.and_then(|c| OffsetDateTime::parse(c, &Rfc3339).ok())
}

/// A tag read as `v?MAJOR(.N)*(-PRE)?(+BUILD)?`, the shape semver and most tags share.
#[derive(Debug, PartialEq, Eq)]
struct Version<'a> {
    numbers: Vec<u64>,
    pre: Option<&'a str>,
}

fn version_of(tag: &str) -> Option<Version<'_>> {
    let t = tag.strip_prefix('v').unwrap_or(tag);
    let t = t.split_once('+').map_or(t, |(v, _)| v);
    let (core, pre) = match t.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (t, None),
    };
    let numbers = core
        .split('.')
        .map(|n| {
            (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .then(|| n.parse::<u64>().ok())
                .flatten()
        })
        .collect::<Option<Vec<u64>>>()?;
    Some(Version { numbers, pre })
}

/// Semver-aware ascending order: versions before other tags; numbers compared as numbers with
/// missing parts as zero (1.10 after 1.9, 2 equal to 2.0); a pre-release before its release
/// (2.0-rc1 before 2.0), pre-releases compared piecewise with numbers as numbers (rc2 before
/// rc10); ties and non-versions by name.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    match (version_of(a), version_of(b)) {
        (Some(x), Some(y)) => {
            let len = x.numbers.len().max(y.numbers.len());
            let nums = (0..len)
                .map(|i| {
                    let p = x.numbers.get(i).copied().unwrap_or(0);
                    let q = y.numbers.get(i).copied().unwrap_or(0);
                    p.cmp(&q)
                })
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal);
            nums.then_with(|| match (x.pre, y.pre) {
                (None, None) => Ordering::Equal,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(p), Some(q)) => natural(p, q),
            })
            .then_with(|| a.cmp(b))
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => natural(a, b).then_with(|| a.cmp(b)),
    }
}

/// Text with runs of digits compared as numbers: `rc2` before `rc10`.
fn natural(a: &str, b: &str) -> Ordering {
    let chunks = |s: &str| -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for c in s.chars() {
            let digit = c.is_ascii_digit();
            match out.last_mut() {
                Some((d, run)) if *d == digit => run.push(c),
                _ => out.push((digit, c.to_string())),
            }
        }
        out
    };
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(cb.iter()) {
        let o = match (x, y) {
            ((true, p), (true, q)) => {
                let (p, q) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                p.len().cmp(&q.len()).then_with(|| p.cmp(q))
            }
            ((true, _), (false, _)) => Ordering::Less,
            ((false, _), (true, _)) => Ordering::Greater,
            ((false, p), (false, q)) => p.cmp(q),
        };
        if o.is_ne() {
            return o;
        }
    }
    ca.len().cmp(&cb.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tag: &str, created: Option<&str>) -> TagRow {
        TagRow {
            tag: tag.to_string(),
            digest: None,
            size: None,
            created: created.map(str::to_string),
            platforms: vec![],
            error: None,
        }
    }

    fn crafted() -> Vec<String> {
        [
            "latest",
            "2.0",
            "1.10",
            "2024-05-01",
            "1.9",
            "2.0-rc1",
            "v1.9.1",
            "2.0-rc10",
            "2.0-rc2",
        ]
        .map(str::to_string)
        .to_vec()
    }

    #[test]
    fn versions_sort_numbers_as_numbers_and_prereleases_before_releases() {
        let mut tags = crafted();
        sort_names(&mut tags, TagSort::Version);
        assert_eq!(
            tags,
            [
                "1.9",
                "v1.9.1",
                "1.10",
                "2.0-rc1",
                "2.0-rc2",
                "2.0-rc10",
                "2.0",
                "2024-05-01",
                "latest"
            ]
        );
    }

    #[test]
    fn names_sort_byte_order_so_10_before_9() {
        let mut tags = crafted();
        sort_names(&mut tags, TagSort::Name);
        assert_eq!(
            tags,
            [
                "1.10",
                "1.9",
                "2.0",
                "2.0-rc1",
                "2.0-rc10",
                "2.0-rc2",
                "2024-05-01",
                "latest",
                "v1.9.1"
            ]
        );
    }

    #[test]
    fn dates_sort_newest_first_whatever_the_fraction_digits_and_undated_last() {
        let mut rows = vec![
            row("old", Some("2024-01-01T00:00:00Z")),
            row("broken", None),
            // Nine fraction digits against none: as text "…00.5" would sort after "…00Z".
            row("newer", Some("2024-06-01T10:00:00.500000000Z")),
            row("newest", Some("2024-06-01T10:00:01Z")),
            row("offset", Some("2024-06-01T11:30:00+02:00")),
        ];
        sort_rows(&mut rows, TagSort::Date);
        let order: Vec<_> = rows.iter().map(|r| r.tag.as_str()).collect();
        assert_eq!(order, ["newest", "newer", "offset", "old", "broken"]);
    }

    #[test]
    fn the_same_date_falls_back_to_version_order() {
        let at = Some("2024-06-01T10:00:00Z");
        let mut rows = vec![row("latest", at), row("1.10", at), row("1.9", at)];
        sort_rows(&mut rows, TagSort::Date);
        let order: Vec<_> = rows.iter().map(|r| r.tag.as_str()).collect();
        assert_eq!(order, ["1.9", "1.10", "latest"]);
    }

    #[test]
    fn an_unknown_order_says_which_ones_exist() {
        let err = "size".parse::<TagSort>().unwrap_err();
        assert!(err.to_string().contains("date, version or name"), "{err}");
        assert_eq!("version".parse::<TagSort>().unwrap(), TagSort::Version);
    }
}
