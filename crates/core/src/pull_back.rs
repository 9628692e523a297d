//! The way back from a registry to the engine: which way a pull of a reference goes, and the
//! commands a user can copy to pull an image elsewhere.
//!
//! An image on a registry that has a Slipway profile comes back through [`crate::Slipway::fetch`] with
//! the profile's HTTP, CA and credentials, so a registry the engine refuses (plain HTTP, a
//! private CA) still works; any other reference goes through the engine's own pull.

use serde::{Deserialize, Serialize};
use slipway_oci::Reference;
use ts_rs::TS;

use crate::profiles::RegistryProfile;
use crate::{Error, Result};

/// The profile whose registry holds `reference`, if the user has one.
pub fn profile_for<'a>(
    profiles: &'a [RegistryProfile],
    reference: &str,
) -> Result<Option<&'a RegistryProfile>> {
    let r = Reference::parse(reference).map_err(|e| Error::invalid_reference(reference, e))?;
    Ok(profiles.iter().find(|p| p.address == r.registry()))
}

/// Commands that pull one image with the usual tools, for the "Copy pull command" buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PullCommands {
    /// `docker pull host/repo:tag`: follows the tag wherever it moves.
    pub by_tag: String,
    /// `docker pull host/repo@sha256:...`: exactly this image, whatever the tag says later.
    pub by_digest: String,
}

/// The pull commands for `repository:tag` on `profile`'s registry, whose manifest is `digest`.
pub fn pull_commands(
    profile: &RegistryProfile,
    repository: &str,
    tag: &str,
    digest: &str,
) -> PullCommands {
    let name = profile.reference(repository);
    PullCommands {
        by_tag: format!("docker pull {name}:{tag}"),
        by_digest: format!("docker pull {name}@{digest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(address: &str) -> RegistryProfile {
        RegistryProfile {
            name: "lan".into(),
            address: address.into(),
            allow_http: true,
            ca_file: None,
            username: None,
            use_docker_credentials: false,
            managed: false,
        }
    }

    #[test]
    fn a_reference_finds_the_profile_of_its_registry_host() {
        let profiles = vec![profile("registry.lan:5000"), profile("127.0.0.1:5001")];
        let found = profile_for(&profiles, "127.0.0.1:5001/team/app:1").unwrap();
        assert_eq!(found.map(|p| p.address.as_str()), Some("127.0.0.1:5001"));
        assert!(profile_for(&profiles, "docker.io/library/debian:12")
            .unwrap()
            .is_none());
        assert!(profile_for(&profiles, "registry.lan/team/app:1")
            .unwrap()
            .is_none());
    }

    #[test]
    fn pull_commands_name_the_tag_and_the_digest() {
        let c = pull_commands(
            &profile("registry.lan:5000"),
            "team/app",
            "1.0",
            "sha256:ab",
        );
        assert_eq!(c.by_tag, "docker pull registry.lan:5000/team/app:1.0");
        assert_eq!(
            c.by_digest,
            "docker pull registry.lan:5000/team/app@sha256:ab"
        );
    }
}
