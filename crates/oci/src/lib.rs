//! slipway-oci: an OCI Distribution client on reqwest, oci-spec and sha2.
//!
//! This crate never talks to a container engine.

pub mod reference;

pub use reference::{validate_repository, validate_tag, Digest, Reference, ReferenceError};
