//! Reading an engine's image export, whatever its layout, as one pass over the tar stream.
//!
//! Engines write three layouts, and the order of their entries differs with each:
//!
//! - Docker 24 and older: `<v1 id>/layer.tar` per layer (uncompressed), `<image id>.json` (the
//!   config), `manifest.json` and `repositories` last. The path says nothing about the content.
//! - Docker 25 and newer (both image stores) write an OCI image layout: every blob under
//!   `blobs/sha256/<hex>`, then `index.json`, `manifest.json` and `oci-layout`. With the classic
//!   store a layer blob is the uncompressed tar (its name is the diff_id); with the containerd
//!   store it is the compressed blob exactly as the registry will hold it, and the blobs come in
//!   digest order, not layer order.
//! - Podman: `<diff_id hex>.tar` per layer, `<config hex>.json`, `manifest.json` last, and
//!   `<id>/layer.tar` symlinks that only repeat the layers.
//!
//! So the reader names what a path tells ([`BlobName`]) and leaves the content to the caller: it
//! is the caller that hashes a layer and learns from its first bytes whether it is compressed.
//! Small JSON documents (manifests, indexes, configs) are read whole. Because every layout ends
//! with its manifest, an export that stops before one is reported as cut short: the tar format
//! alone cannot tell a stream that ended at an entry boundary from a complete one. An engine
//! that fails after it started sending appends its error as text after the archive
//! ([moby `streamformatter`](https://github.com/moby/moby/blob/v20.10.24/pkg/streamformatter/streamformatter.go));
//! that text becomes the error instead of being taken for padding.

use std::io::Read;

use bytes::Bytes;

use crate::{Error, Result};

/// Files up to this size that parse as JSON are documents, not layers: an OCI manifest, an image
/// config or an index. containers/image caps manifests and configs at 4 MiB for the same reason
/// (`pkg/iolimits`).
pub const SMALL_MAX: u64 = 4 << 20;

/// One thing read from the export, in archive order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveEntry {
    /// A layer-sized blob begins: [`ArchiveEntry::Chunk`]s of it follow, then
    /// [`ArchiveEntry::BlobEnd`].
    BlobStart {
        /// The path inside the archive, for messages.
        path: String,
        /// Its length in bytes.
        size: u64,
        /// What the path says about the content.
        name: BlobName,
    },
    /// The next bytes of the current blob, at most the chunk size the reader was given.
    Chunk(Bytes),
    /// The current blob is complete.
    BlobEnd,
    /// A small JSON document, whole: `manifest.json`, `index.json`, an image config or an OCI
    /// manifest under `blobs/`.
    Document {
        /// The path inside the archive (`manifest.json`, `blobs/sha256/<hex>`, `<hex>.json`).
        path: String,
        /// Its bytes, exactly as the engine wrote them (digests cover these).
        bytes: Bytes,
    },
}

/// What an entry's path says about a blob's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobName {
    /// The path names the digest of the bytes (`sha256:<hex>`): `blobs/sha256/<hex>` in an OCI
    /// layout, `<hex>.tar` in Podman's archive. For an uncompressed layer that digest is its
    /// diff_id; for a compressed one it is the registry digest.
    Digest(String),
    /// `<v1 id>/layer.tar`: only hashing the content tells which layer it is.
    Unnamed,
}

/// Reads an export from `reader` and hands every entry to `emit`, in order; layer blobs in chunks
/// of `chunk` bytes. `emit` returns false to stop early (the consumer went away), which ends the
/// read with `Ok`.
pub fn read_archive(
    reader: impl Read,
    chunk: usize,
    mut emit: impl FnMut(ArchiveEntry) -> bool,
) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    let mut saw_manifest = false;
    let entries = archive.entries().map_err(export_error)?;
    for entry in entries {
        let mut entry = entry.map_err(export_error)?;
        if !entry.header().entry_type().is_file() {
            // Directories, and the symlinks Docker and Podman write for a repeated layer: the
            // config's diff_ids already say a layer repeats.
            continue;
        }
        let path = entry
            .path()
            .map_err(export_error)?
            .to_string_lossy()
            .into_owned();
        let size = entry.size();
        let Some(kind) = classify(&path, size) else {
            continue;
        };
        saw_manifest |= path == "manifest.json" || path == "index.json";
        let go_on = match kind {
            Kind::Document => {
                let bytes = read_whole(&mut entry, size)?;
                emit(ArchiveEntry::Document { path, bytes })
            }
            Kind::MaybeDocument(name) => {
                // A small blob is a document when it is JSON; otherwise it is a small layer.
                let bytes = read_whole(&mut entry, size)?;
                if is_json_object(&bytes) {
                    emit(ArchiveEntry::Document { path, bytes })
                } else {
                    emit(ArchiveEntry::BlobStart { path, size, name })
                        && (bytes.is_empty() || emit(ArchiveEntry::Chunk(bytes)))
                        && emit(ArchiveEntry::BlobEnd)
                }
            }
            Kind::Blob(name) => {
                emit(ArchiveEntry::BlobStart { path, size, name })
                    && stream_blob(&mut entry, chunk, &mut emit)?
                    && emit(ArchiveEntry::BlobEnd)
            }
        };
        if !go_on {
            return Ok(());
        }
    }
    let mut rest = archive.into_inner();
    check_trailer(&mut rest)?;
    if !saw_manifest {
        return Err(Error::Export {
            message: "the export ended before its manifest.json; the engine stopped sending \
                      (see its log), try again"
                .to_string(),
        });
    }
    Ok(())
}

enum Kind {
    Document,
    MaybeDocument(BlobName),
    Blob(BlobName),
}

fn classify(path: &str, size: u64) -> Option<Kind> {
    let top_level = !path.contains('/');
    if top_level && (path.ends_with(".json") || path == "oci-layout" || path == "repositories") {
        return Some(Kind::Document);
    }
    if path == "layer.tar" || path.ends_with("/layer.tar") {
        return Some(Kind::Blob(BlobName::Unnamed));
    }
    let named = if let Some(rest) = path.strip_prefix("blobs/") {
        let (algorithm, hex) = rest.split_once('/')?;
        is_hex(hex).then(|| format!("{algorithm}:{hex}"))
    } else if let Some(hex) = path.strip_suffix(".tar").filter(|_| top_level) {
        is_hex(hex).then(|| format!("sha256:{hex}"))
    } else {
        None
    }?;
    Some(if size <= SMALL_MAX {
        Kind::MaybeDocument(BlobName::Digest(named))
    } else {
        Kind::Blob(BlobName::Digest(named))
    })
}

fn is_hex(s: &str) -> bool {
    s.len() >= 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_json_object(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
}

fn read_whole(entry: &mut impl Read, size: u64) -> Result<Bytes> {
    let mut bytes = Vec::with_capacity(size as usize);
    entry.read_to_end(&mut bytes).map_err(export_error)?;
    Ok(Bytes::from(bytes))
}

/// Sends the entry in `chunk`-sized pieces; false when the consumer went away.
fn stream_blob(
    entry: &mut impl Read,
    chunk: usize,
    emit: &mut impl FnMut(ArchiveEntry) -> bool,
) -> Result<bool> {
    loop {
        let mut buf = vec![0u8; chunk];
        let mut filled = 0;
        while filled < chunk {
            let n = entry.read(&mut buf[filled..]).map_err(export_error)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            return Ok(true);
        }
        buf.truncate(filled);
        if !emit(ArchiveEntry::Chunk(Bytes::from(buf))) {
            return Ok(false);
        }
        if filled < chunk {
            return Ok(true);
        }
    }
}

/// What follows the archive's end must be padding; anything else is the engine's error text.
fn check_trailer(rest: &mut impl Read) -> Result<()> {
    let mut tail = Vec::new();
    rest.take(1 << 20)
        .read_to_end(&mut tail)
        .map_err(export_error)?;
    let text: String = String::from_utf8_lossy(&tail)
        .chars()
        .filter(|c| *c != '\0')
        .collect();
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    let message = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("errorDetail")
                .and_then(|d| d.get("message"))
                .or_else(|| v.get("error"))
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| text.chars().take(500).collect());
    Err(Error::Export {
        message: format!("the engine failed while exporting: {message}"),
    })
}

fn export_error(e: std::io::Error) -> Error {
    Error::Export {
        message: format!("reading the engine's export failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar in memory with the given regular files and symlinks (target non-empty), in order.
    fn tar_of(files: &[(&str, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data, link) in files {
            let mut header = tar::Header::new_gnu();
            match link {
                Some(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    header.set_cksum();
                    builder.append_link(&mut header, path, target).unwrap();
                }
                None => {
                    header.set_size(data.len() as u64);
                    header.set_mode(0o644);
                    header.set_cksum();
                    builder.append_data(&mut header, path, *data).unwrap();
                }
            }
        }
        builder.into_inner().unwrap()
    }

    fn read_all(bytes: &[u8], chunk: usize) -> Result<Vec<ArchiveEntry>> {
        let mut out = Vec::new();
        read_archive(bytes, chunk, |e| {
            out.push(e);
            true
        })?;
        Ok(out)
    }

    const HEX_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const HEX_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn a_docker_24_export_yields_unnamed_layers_and_its_documents() {
        let layer = vec![7u8; 2500];
        let tar = tar_of(&[
            ("abc/VERSION", b"1.0", None),
            ("abc/json", b"{}", None),
            ("abc/layer.tar", &layer, None),
            ("def/layer.tar", b"", Some("../abc/layer.tar")),
            (&format!("{HEX_A}.json"), b"{\"rootfs\":{}}", None),
            ("manifest.json", b"[{\"Config\":\"x\"}]", None),
            ("repositories", b"{}", None),
        ]);
        let entries = read_all(&tar, 1000).unwrap();
        assert_eq!(
            entries[0],
            ArchiveEntry::BlobStart {
                path: "abc/layer.tar".into(),
                size: 2500,
                name: BlobName::Unnamed
            }
        );
        let chunks: Vec<usize> = entries
            .iter()
            .filter_map(|e| match e {
                ArchiveEntry::Chunk(c) => Some(c.len()),
                _ => None,
            })
            .collect();
        assert_eq!(chunks, vec![1000, 1000, 500]);
        assert_eq!(entries[4], ArchiveEntry::BlobEnd);
        let docs: Vec<&str> = entries
            .iter()
            .filter_map(|e| match e {
                ArchiveEntry::Document { path, .. } => Some(path.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            docs,
            vec![
                format!("{HEX_A}.json").as_str(),
                "manifest.json",
                "repositories"
            ]
        );
    }

    #[test]
    fn an_oci_layout_names_blobs_by_digest_and_tells_documents_from_small_layers() {
        let gzip_layer = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0];
        let tar = tar_of(&[
            (&format!("blobs/sha256/{HEX_A}"), &gzip_layer, None),
            (
                &format!("blobs/sha256/{HEX_B}"),
                b" {\"schemaVersion\":2}",
                None,
            ),
            ("index.json", b"{}", None),
            ("manifest.json", b"[]", None),
            ("oci-layout", b"{\"imageLayoutVersion\":\"1.0.0\"}", None),
        ]);
        let entries = read_all(&tar, 1 << 20).unwrap();
        assert_eq!(
            entries[0],
            ArchiveEntry::BlobStart {
                path: format!("blobs/sha256/{HEX_A}"),
                size: 8,
                name: BlobName::Digest(format!("sha256:{HEX_A}"))
            }
        );
        assert_eq!(
            entries[1],
            ArchiveEntry::Chunk(Bytes::copy_from_slice(&gzip_layer))
        );
        assert_eq!(entries[2], ArchiveEntry::BlobEnd);
        assert!(
            matches!(&entries[3], ArchiveEntry::Document { path, .. } if path.ends_with(HEX_B))
        );
        assert_eq!(entries.len(), 7);
    }

    #[test]
    fn a_podman_export_names_layers_by_diff_id_and_skips_its_symlinks() {
        let tar = tar_of(&[
            (&format!("{HEX_A}.tar"), b"not json at all", None),
            (&format!("{HEX_B}.json"), b"{}", None),
            ("ccc/layer.tar", b"", Some(&format!("../{HEX_A}.tar"))),
            ("manifest.json", b"[]", None),
        ]);
        let entries = read_all(&tar, 1 << 20).unwrap();
        assert_eq!(
            entries[0],
            ArchiveEntry::BlobStart {
                path: format!("{HEX_A}.tar"),
                size: 15,
                name: BlobName::Digest(format!("sha256:{HEX_A}"))
            }
        );
        assert_eq!(entries.len(), 5, "{entries:?}");
    }

    #[test]
    fn an_export_cut_before_its_manifest_is_an_error() {
        let tar = tar_of(&[("abc/layer.tar", &[1u8; 100], None)]);
        // A stream that stops at an entry boundary: no end-of-archive blocks at all.
        let cut = &tar[..1024];
        let err = read_all(cut, 1 << 20).unwrap_err().to_string();
        assert!(err.contains("ended before its manifest.json"), "{err}");
    }

    #[test]
    fn an_engine_error_after_the_archive_is_reported_not_ignored() {
        let mut tar = tar_of(&[("manifest.json", b"[]", None)]);
        tar.extend_from_slice(br#"{"errorDetail":{"message":"no space left on device"}}"#);
        let err = read_all(&tar, 1 << 20).unwrap_err().to_string();
        assert!(err.contains("no space left on device"), "{err}");
    }

    #[test]
    fn a_consumer_that_goes_away_stops_the_read_quietly() {
        let tar = tar_of(&[
            ("abc/layer.tar", &[1u8; 5000], None),
            ("manifest.json", b"[]", None),
        ]);
        let mut seen = 0;
        read_archive(&tar[..], 1000, |_| {
            seen += 1;
            seen < 3
        })
        .unwrap();
        assert_eq!(seen, 3);
    }
}
