//! An image manifest composed from its parts, with oci-spec's types, for a push.
//!
//! The [image-spec](https://github.com/opencontainers/image-spec/blob/v1.1.0/manifest.md) says
//! the manifest's `config` "MUST" be a descriptor of the image configuration and `layers` "MUST"
//! list the layer descriptors "ordered starting from the base image", which is the order of the
//! config's `rootfs.diff_ids`; each descriptor carries `mediaType`, `digest` and `size`, and the
//! `size` "MUST" equal the blob's length. Docker's schema 2 manifest has the same shape with
//! Docker media types, which Docker 20.10 needs for gzip layers to be pulled by every client.

use bytes::Bytes;
use oci_spec::image::{Descriptor, DescriptorBuilder, ImageManifestBuilder, MediaType};

use crate::manifests::{
    DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, OCI_MANIFEST,
};
use crate::reference::Digest;

/// Which family of media types a manifest and its descriptors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Docker's schema 2 (`application/vnd.docker.distribution.manifest.v2+json`): what every
    /// engine since Docker 1.10 pulls. It has no zstd layer type.
    Docker,
    /// OCI image manifest: required for zstd layers.
    Oci,
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerCompression {
    Gzip,
    Zstd,
}

impl Flavor {
    /// The manifest's own media type.
    pub fn manifest_media_type(self) -> &'static str {
        match self {
            Flavor::Docker => DOCKER_MANIFEST,
            Flavor::Oci => OCI_MANIFEST,
        }
    }

    /// The config descriptor's media type.
    pub fn config_media_type(self) -> MediaType {
        match self {
            Flavor::Docker => MediaType::Other(DOCKER_CONFIG.to_string()),
            Flavor::Oci => MediaType::ImageConfig,
        }
    }

    /// A layer descriptor's media type. zstd exists only in the OCI flavor; asking for it in the
    /// Docker flavor gives the OCI type, which is what registries and containerd accept.
    pub fn layer_media_type(self, compression: LayerCompression) -> MediaType {
        match (self, compression) {
            (Flavor::Docker, LayerCompression::Gzip) => {
                MediaType::Other(DOCKER_LAYER_GZIP.to_string())
            }
            (Flavor::Oci, LayerCompression::Gzip) => MediaType::ImageLayerGzip,
            (_, LayerCompression::Zstd) => MediaType::ImageLayerZstd,
        }
    }
}

/// A descriptor of `size` bytes with `digest`.
pub fn descriptor(media_type: MediaType, size: u64, digest: &Digest) -> Descriptor {
    let digest: oci_spec::image::Digest = digest
        .to_string()
        .parse()
        .expect("our Digest is always a valid OCI digest");
    DescriptorBuilder::default()
        .media_type(media_type)
        .size(size)
        .digest(digest)
        .build()
        .expect("media type, size and digest are all a descriptor requires")
}

/// The manifest of an image with `config` and `layers` (base first), as the bytes to PUT.
pub fn image_manifest(flavor: Flavor, config: Descriptor, layers: Vec<Descriptor>) -> Bytes {
    let media_type = match flavor {
        Flavor::Docker => MediaType::Other(DOCKER_MANIFEST.to_string()),
        Flavor::Oci => MediaType::ImageManifest,
    };
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(media_type)
        .config(config)
        .layers(layers)
        .build()
        .expect("schema version, config and layers are all a manifest requires");
    Bytes::from(serde_json::to_vec(&manifest).expect("a manifest always serializes"))
}

/// The compression of a layer blob, read from its first bytes (gzip's and zstd's magic numbers),
/// or `None` for an uncompressed tar.
pub fn sniff_compression(first_bytes: &[u8]) -> Option<LayerCompression> {
    if first_bytes.starts_with(&[0x1f, 0x8b]) {
        Some(LayerCompression::Gzip)
    } else if first_bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(LayerCompression::Zstd)
    } else {
        None
    }
}

/// The compression a layer media type names, if any (`+gzip`, `+zstd`, Docker's `.tar.gzip`).
pub fn compression_of(media_type: &str) -> Option<LayerCompression> {
    match media_type {
        DOCKER_LAYER_GZIP | OCI_LAYER_GZIP => Some(LayerCompression::Gzip),
        OCI_LAYER_ZSTD => Some(LayerCompression::Zstd),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::OCI_CONFIG;

    #[test]
    fn a_docker_manifest_lists_config_and_layers_with_their_types() {
        let config = Digest::sha256_of(b"config");
        let layer = Digest::sha256_of(b"layer");
        let bytes = image_manifest(
            Flavor::Docker,
            descriptor(Flavor::Docker.config_media_type(), 6, &config),
            vec![descriptor(
                Flavor::Docker.layer_media_type(LayerCompression::Gzip),
                5,
                &layer,
            )],
        );
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["schemaVersion"], 2);
        assert_eq!(v["mediaType"], DOCKER_MANIFEST);
        assert_eq!(v["config"]["mediaType"], DOCKER_CONFIG);
        assert_eq!(v["config"]["digest"], config.to_string());
        assert_eq!(v["layers"][0]["mediaType"], DOCKER_LAYER_GZIP);
        assert_eq!(v["layers"][0]["size"], 5);
    }

    #[test]
    fn an_oci_manifest_uses_the_oci_types_for_zstd() {
        let d = Digest::sha256_of(b"x");
        let bytes = image_manifest(
            Flavor::Oci,
            descriptor(Flavor::Oci.config_media_type(), 1, &d),
            vec![descriptor(
                Flavor::Oci.layer_media_type(LayerCompression::Zstd),
                1,
                &d,
            )],
        );
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["mediaType"], OCI_MANIFEST);
        assert_eq!(v["config"]["mediaType"], OCI_CONFIG);
        assert_eq!(v["layers"][0]["mediaType"], OCI_LAYER_ZSTD);
    }

    #[test]
    fn compression_is_told_by_magic_bytes() {
        assert_eq!(
            sniff_compression(&[0x1f, 0x8b, 8]),
            Some(LayerCompression::Gzip)
        );
        assert_eq!(
            sniff_compression(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Some(LayerCompression::Zstd)
        );
        assert_eq!(sniff_compression(b"etc/\0\0\0"), None);
        assert_eq!(sniff_compression(&[]), None);
    }
}
