//! How a push compresses layers: gzip (ISA-L's igzip at level 1, libdeflate at 2-12) or zstd, in
//! independent 1 MiB members so that every core can work on one layer at once.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use slipway_oci::image::{Flavor, LayerCompression};

use crate::{Error, Result};

/// Uncompressed bytes per gzip member. Large enough that the per-member header and the lost
/// back-references (deflate's window is only 32 KiB) cost well under 1% of ratio, small enough
/// that every core stays busy on a single layer and memory stays bounded.
pub(crate) const CHUNK: usize = 1 << 20;

/// How layers are compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// gzip (ISA-L at the default level, libdeflate at others), as every registry client
    /// understands; Docker v2 media types.
    #[default]
    Gzip,
    /// zstd: faster and smaller, but only OCI media types allow it and Docker 20.10 cannot pull
    /// it (containerd, podman and skopeo can).
    Zstd,
}

impl Compression {
    /// The name the push cache files layers under.
    pub(crate) fn name(self) -> &'static str {
        cache_name(self.layer())
    }

    pub(crate) fn layer(self) -> LayerCompression {
        match self {
            Compression::Gzip => LayerCompression::Gzip,
            Compression::Zstd => LayerCompression::Zstd,
        }
    }

    /// The manifest flavor: Docker's for gzip (what Docker 20.10 pulls), OCI for zstd (the only
    /// one with a zstd layer type).
    pub(crate) fn flavor(self) -> Flavor {
        match self {
            Compression::Gzip => Flavor::Docker,
            Compression::Zstd => Flavor::Oci,
        }
    }
}

/// The name the push cache files a layer compressed this way under: a layer compressed with
/// gzip and with zstd are two different blobs.
pub(crate) fn cache_name(compression: LayerCompression) -> &'static str {
    match compression {
        LayerCompression::Gzip => "gzip",
        LayerCompression::Zstd => "zstd",
    }
}

/// A compression and its level, everything a compression task needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Codec {
    pub compression: Compression,
    pub level: i32,
}

impl Codec {
    /// The codec for a request: gzip's default, level 1, is ISA-L's igzip; on the benchmark image
    /// its output is 1.05x the size skopeo's gzip produces at 2.4x the speed of libdeflate's
    /// level 1, so speed does not come from compressing much less than the peers do. zstd's
    /// level 1 is already smaller than skopeo's gzip there, at 0.7x the CPU of zstd's level 3.
    pub fn new(compression: Compression, level: Option<i32>) -> Codec {
        Codec {
            compression,
            level: level.unwrap_or(1),
        }
    }

    /// One independent member/frame for `data`: gzip members and zstd frames may both be
    /// concatenated (RFC 1952 §2.2; RFC 8878 §3.1), and decoders read them as one stream.
    pub fn compress(self, data: &[u8]) -> Result<Bytes> {
        match self.compression {
            Compression::Gzip => gzip_member(data, self.level),
            Compression::Zstd => zstd::bulk::compress(data, self.level)
                .map(Bytes::from)
                .map_err(|e| Error::Compression(format!("zstd level {}: {e}", self.level))),
        }
    }
}

/// One independent gzip member for `data`: level 1 with ISA-L's igzip, levels 2-12 with
/// libdeflate.
fn gzip_member(data: &[u8], level: i32) -> Result<Bytes> {
    if level == 1 {
        return isal::compress(data, isal::CompressionLevel::One, isal::Codec::Gzip)
            .map(Bytes::from)
            .map_err(|e| Error::Compression(format!("gzip (ISA-L): {e}")));
    }
    let lvl = libdeflater::CompressionLvl::new(level)
        .map_err(|_| Error::InvalidInput(format!("gzip level {level} is out of range 1-12")))?;
    thread_local! {
        // A compressor holds large match-finder tables; one per blocking thread and level avoids
        // allocating them for every chunk.
        static COMPRESSOR: std::cell::RefCell<Option<(i32, libdeflater::Compressor)>> =
            const { std::cell::RefCell::new(None) };
    }
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            *slot = Some((level, libdeflater::Compressor::new(lvl)));
        }
        let (_, compressor) = slot.as_mut().expect("just set");
        let mut out = vec![0u8; compressor.gzip_compress_bound(data.len())];
        let n = compressor
            .gzip_compress(data, &mut out)
            .map_err(|e| Error::Compression(format!("gzip level {level}: {e:?}")))?;
        out.truncate(n);
        Ok(Bytes::from(out))
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn concatenated_members_decompress_to_the_input() {
        let data: Vec<u8> = (0..3 * CHUNK + 123).map(|i| (i % 251) as u8).collect();
        let mut gz = Vec::new();
        // Members from both compressors (ISA-L at level 1, libdeflate at 6), concatenated: a
        // decoder must read them as one stream whichever made each.
        for (i, chunk) in data.chunks(CHUNK).enumerate() {
            let level = if i % 2 == 0 { 1 } else { 6 };
            gz.extend_from_slice(&gzip_member(chunk, level).unwrap());
        }
        // The system gzip reads multi-member streams, as Go's gzip reader (and so `docker pull`)
        // does.
        let mut child = std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &gz));
        let mut out = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
        writer.join().unwrap().unwrap();
        assert!(child.wait().unwrap().success());
        assert_eq!(out, data);
    }

    #[test]
    fn zstd_frames_concatenate_too() {
        let codec = Codec::new(Compression::Zstd, None);
        let mut z = codec.compress(b"hello ").unwrap().to_vec();
        z.extend_from_slice(&codec.compress(b"world").unwrap());
        let out = zstd::stream::decode_all(&z[..]).unwrap();
        assert_eq!(out, b"hello world");
    }
}
