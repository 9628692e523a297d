//! Which config and layers an export describes, read from its small documents once the stream has
//! ended (every layout writes its `manifest.json` last).
//!
//! `manifest.json` is the one document every layout has: Docker's legacy archive, Docker 25+'s
//! OCI layout (which writes it beside `index.json` for compatibility) and Podman's archive. Each
//! entry names the config file and the layer files in order, base first.

use std::collections::HashMap;

use bytes::Bytes;
use serde::Deserialize;
use slipway_oci::manifests::OCI_MANIFEST;
use slipway_oci::oci_spec::image::ImageConfiguration;
use slipway_oci::Digest;

use crate::{Error, Result};

/// The image an export describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Resolved {
    /// The config's exact bytes; their digest is the config digest.
    pub config: Bytes,
    pub config_digest: Digest,
    /// Each layer's path in the archive, base first.
    pub layer_paths: Vec<String>,
}

/// Reads `manifest.json` and finds the config it names.
pub(super) fn resolve(documents: &HashMap<String, Bytes>) -> Result<Resolved> {
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "Config")]
        config: String,
        #[serde(rename = "Layers", default)]
        layers: Vec<String>,
    }
    let manifest = documents
        .get("manifest.json")
        .ok_or_else(|| Error::Engine("the engine's export has no manifest.json".to_string()))?;
    let entries: Vec<Entry> = serde_json::from_slice(manifest)
        .map_err(|e| Error::Engine(format!("the export's manifest.json is not readable: {e}")))?;
    let entry = entries
        .into_iter()
        .next()
        .ok_or_else(|| Error::Engine("the export's manifest.json is empty".to_string()))?;
    let config = documents.get(&entry.config).cloned().ok_or_else(|| {
        Error::Engine(format!(
            "the engine's export has no config file {}",
            entry.config
        ))
    })?;
    let config_digest = Digest::sha256_of(&config);
    if let Some(named) = named_hex(&entry.config) {
        if named != config_digest.hex() {
            return Err(Error::Engine(format!(
                "the export's config {} does not hash to its name ({config_digest})",
                entry.config
            )));
        }
    }
    Ok(Resolved {
        config,
        config_digest,
        layer_paths: entry.layers,
    })
}

/// The hex digest a path is named after: `blobs/sha256/<hex>`, `<hex>.json`.
fn named_hex(path: &str) -> Option<&str> {
    let name = path
        .strip_prefix("blobs/sha256/")
        .or_else(|| path.strip_suffix(".json"))?;
    (name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())).then_some(name)
}

/// Checks that the config's `rootfs.diff_ids` are exactly the engine's layers: the image the
/// push names is the image the engine holds.
pub(super) fn check_config(config: &[u8], diff_ids: &[String]) -> Result<()> {
    let parsed: ImageConfiguration = serde_json::from_slice(config)
        .map_err(|e| Error::Engine(format!("the image config is not readable: {e}")))?;
    let in_config: Vec<String> = parsed
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| d.to_string())
        .collect();
    if in_config != diff_ids {
        return Err(Error::Engine(
            "the image's layers changed during the push; try again".to_string(),
        ));
    }
    Ok(())
}

/// The engine's own image manifest for `config_digest` with exactly `layers`, when the export
/// carries one (an OCI layout does, under `blobs/`), as its media type and exact bytes. Pushing
/// those bytes gives the registry the manifest digest the engine itself reports.
pub(super) fn engine_manifest(
    documents: &HashMap<String, Bytes>,
    config_digest: &Digest,
    layers: &[Digest],
) -> Option<(String, Bytes)> {
    #[derive(Deserialize)]
    struct Desc {
        digest: String,
    }
    #[derive(Deserialize)]
    struct Manifest {
        #[serde(rename = "mediaType", default)]
        media_type: Option<String>,
        config: Desc,
        layers: Vec<Desc>,
    }
    documents
        .iter()
        .filter(|(path, _)| path.starts_with("blobs/"))
        .find_map(|(_, bytes)| {
            let m: Manifest = serde_json::from_slice(bytes).ok()?;
            let same_layers = m.layers.len() == layers.len()
                && m.layers
                    .iter()
                    .zip(layers)
                    .all(|(a, b)| a.digest == b.to_string());
            (m.config.digest == config_digest.to_string() && same_layers).then(|| {
                (
                    m.media_type.unwrap_or_else(|| OCI_MANIFEST.to_string()),
                    bytes.clone(),
                )
            })
        })
}

/// Whether the export describes the image with id `image_id`: either the id is the config digest
/// (classic stores, Podman) or it is the digest of a manifest or index in the export (Docker's
/// containerd image store).
pub(super) fn is_image(
    documents: &HashMap<String, Bytes>,
    config_digest: &Digest,
    image_id: &str,
) -> bool {
    config_digest.to_string() == image_id
        || documents.iter().any(|(path, bytes)| {
            path.starts_with("blobs/") && Digest::sha256_of(bytes).to_string() == image_id
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}}"#;

    fn docs(pairs: &[(&str, &[u8])]) -> HashMap<String, Bytes> {
        pairs
            .iter()
            .map(|(p, b)| (p.to_string(), Bytes::copy_from_slice(b)))
            .collect()
    }

    #[test]
    fn an_oci_layout_export_resolves_its_config_and_layer_paths() {
        let digest = Digest::sha256_of(CONFIG.as_bytes());
        let config_path = format!("blobs/sha256/{}", digest.hex());
        let manifest = format!(r#"[{{"Config":"{config_path}","Layers":["blobs/sha256/x"]}}]"#);
        let documents = docs(&[
            (&config_path, CONFIG.as_bytes()),
            ("manifest.json", manifest.as_bytes()),
        ]);
        let resolved = resolve(&documents).unwrap();
        assert_eq!(resolved.config_digest, digest);
        assert_eq!(resolved.layer_paths, vec!["blobs/sha256/x".to_string()]);
        check_config(&resolved.config, &["sha256:".to_string() + &"a".repeat(64)]).unwrap();
    }

    #[test]
    fn a_config_that_does_not_hash_to_its_name_is_refused() {
        let wrong = format!("{}.json", "b".repeat(64));
        let manifest = format!(r#"[{{"Config":"{wrong}","Layers":[]}}]"#);
        let documents = docs(&[
            (&wrong, CONFIG.as_bytes()),
            ("manifest.json", manifest.as_bytes()),
        ]);
        let err = resolve(&documents).unwrap_err().to_string();
        assert!(err.contains("does not hash to its name"), "{err}");
    }

    #[test]
    fn changed_layers_are_caught() {
        let err = check_config(CONFIG.as_bytes(), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("changed during the push"), "{err}");
    }

    #[test]
    fn the_engines_own_manifest_is_found_by_config_and_layers() {
        let config = Digest::sha256_of(b"c");
        let layer = Digest::sha256_of(b"l");
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"digest":"{config}","size":1}},"layers":[{{"digest":"{layer}","size":1}}]}}"#
        );
        let documents = docs(&[("blobs/sha256/m", manifest.as_bytes())]);
        let (media_type, bytes) =
            engine_manifest(&documents, &config, std::slice::from_ref(&layer)).unwrap();
        assert_eq!(media_type, OCI_MANIFEST);
        assert_eq!(bytes, manifest.as_bytes());
        assert!(engine_manifest(&documents, &config, &[]).is_none());
        let id = Digest::sha256_of(manifest.as_bytes()).to_string();
        assert!(is_image(&documents, &config, &id));
        assert!(!is_image(&documents, &config, "sha256:other"));
    }
}
