//! slipway-oci: an OCI Distribution client on reqwest, oci-spec and sha2.
//!
//! This crate never talks to a container engine.
