//! slipway-oci: an OCI Distribution client on reqwest, oci-spec and sha2.
//!
//! This crate never talks to a container engine. One module per registry resource: [`catalog`]
//! (catalog and tags), [`manifests`], [`blobs`], [`uploads`]; [`client`] holds the transport and
//! authentication, [`credentials`] the Docker credential store, [`probe`] the capability probe,
//! [`files`] the private, atomic, locked writes of every state file Slipway keeps.

pub mod blobs;
pub mod catalog;
pub mod client;
pub mod credentials;
pub mod error;
pub mod files;
pub mod image;
pub mod manifests;
pub mod probe;
pub mod reference;
pub mod tag_delete;
pub mod uploads;

pub use client::{
    AuthKind, Client, ClientOptions, CredentialSource, RetryPolicy, Scope, Timeouts, TIMEOUT_ENV,
};
pub use credentials::{CredentialStore, Credentials};
pub use error::{Error, Result};
pub use manifests::{Manifest, ManifestKind, PlatformSpec};
pub use reference::{validate_repository, validate_tag, Digest, Reference, ReferenceError};
pub use tag_delete::TagDelete;
pub use uploads::{BlobSource, Growth};

/// Re-exported so callers build and read manifests with the same types we do.
pub use oci_spec;
