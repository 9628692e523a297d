//! slipway-engine: the local container engine (Docker, or Podman's Docker-compatible socket) seen
//! through bollard, mapped to Slipway's own types.
//!
//! This crate never speaks HTTP to a registry: pulls go through the engine, pushes through
//! `slipway-oci`.
