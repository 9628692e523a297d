//! The engine's common failures, told apart by the engine's own words, so that each has a code
//! and each front end can say what to do about it in its own terms (the CLI's `cli_hint`, the
//! page's `ui/js/hints.js`).
//!
//! The engine reports these as bare text inside a status code that means many things (a 404 for
//! a missing network as for a missing image, a 500 for a full disk as for anything else), so the
//! text is the only way to tell them apart. Docker's and Podman's wordings are both matched.

/// A failure of the engine's with a known remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineFailure {
    /// The network a container is attached to is gone (Docker's `docker0` bridge deleted, a
    /// user network removed).
    NetworkMissing,
    /// A container of that name exists already.
    NameInUse,
    /// The user may not use the engine's socket.
    PermissionDenied,
    /// The disk the engine keeps its data on is full.
    DiskFull,
    /// A registry refused the engine's pull: credentials missing or not accepted.
    PullUnauthorized,
    /// A registry has no image under the name and tag the engine asked for.
    ManifestUnknown,
}

impl EngineFailure {
    /// Every failure told apart here.
    pub const ALL: [EngineFailure; 6] = [
        EngineFailure::NetworkMissing,
        EngineFailure::NameInUse,
        EngineFailure::PermissionDenied,
        EngineFailure::DiskFull,
        EngineFailure::PullUnauthorized,
        EngineFailure::ManifestUnknown,
    ];

    /// The stable code, as in [`crate::Error::code`].
    pub fn code(self) -> &'static str {
        match self {
            EngineFailure::NetworkMissing => "engine_network_missing",
            EngineFailure::NameInUse => "name_in_use",
            EngineFailure::PermissionDenied => "engine_permission_denied",
            EngineFailure::DiskFull => "engine_disk_full",
            EngineFailure::PullUnauthorized => "engine_pull_unauthorized",
            EngineFailure::ManifestUnknown => "engine_manifest_unknown",
        }
    }

    /// What is wrong, in neutral words, said before the engine's own message.
    pub fn summary(self) -> &'static str {
        match self {
            EngineFailure::NetworkMissing => {
                "the engine cannot attach the container to its network, which does not exist"
            }
            EngineFailure::NameInUse => "a container with that name exists already",
            EngineFailure::PermissionDenied => "this user may not use the engine's socket",
            EngineFailure::DiskFull => "the engine ran out of disk space",
            EngineFailure::PullUnauthorized => {
                "the registry refused the engine's pull: it wants credentials the engine does not have"
            }
            EngineFailure::ManifestUnknown => "the registry has no image under that name and tag",
        }
    }

    /// Which of these failures the engine's `message` reports, if any.
    pub fn classify(message: &str) -> Option<EngineFailure> {
        let text = message.to_lowercase();
        let has = |needle: &str| text.contains(needle);
        // A full disk shows through whatever the engine was doing, so it is tested first.
        if has("no space left on device") {
            return Some(EngineFailure::DiskFull);
        }
        if has("is already in use by container")
            || has("that name is already in use")
            || (has("container name") && has("already in use"))
        {
            return Some(EngineFailure::NameInUse);
        }
        if has("could not find bridge")
            || (has("network ") && has(" not found"))
            || has("network not found")
        {
            return Some(EngineFailure::NetworkMissing);
        }
        if has("pull access denied")
            || has("unauthorized: authentication required")
            || has("no basic auth credentials")
            || has("authorization failed")
            || has("401 unauthorized")
        {
            return Some(EngineFailure::PullUnauthorized);
        }
        if has("manifest unknown")
            || (has("manifest for ") && has(" not found"))
            || (has("failed to resolve reference") && has(": not found"))
        {
            return Some(EngineFailure::ManifestUnknown);
        }
        if has("permission denied while trying to connect")
            || (has(".sock") && has("permission denied"))
        {
            return Some(EngineFailure::PermissionDenied);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::EngineFailure::{self, *};

    fn classify(message: &str) -> Option<EngineFailure> {
        EngineFailure::classify(message)
    }

    #[test]
    fn a_missing_bridge_or_network_is_told_apart() {
        // Docker 20.10 after its docker0 was deleted (another daemon told "bridge": "none").
        assert_eq!(
            classify("the engine refused the request (HTTP 500): failed to create endpoint eager_bell on network bridge: adding interface veth1234567 to bridge docker0 failed: could not find bridge docker0: route ip+net: no such network interface"),
            Some(NetworkMissing)
        );
        // Docker, a user network that was removed.
        assert_eq!(
            classify("network slipway-net not found"),
            Some(NetworkMissing)
        );
        // Podman.
        assert_eq!(
            classify("unable to find network with name or ID slipway-net: network not found"),
            Some(NetworkMissing)
        );
    }

    #[test]
    fn a_name_in_use_is_told_apart() {
        assert_eq!(
            classify(
                r#"Conflict. The container name "/shop" is already in use by container "4f1c0e2b9a7d". You have to remove (or rename) that container to be able to reuse that name."#
            ),
            Some(NameInUse)
        );
        assert_eq!(
            classify(
                r#"creating container storage: the container name "shop" is already in use by 4f1c0e2b9a7d. You have to remove that container to be able to reuse that name: that name is already in use"#
            ),
            Some(NameInUse)
        );
    }

    #[test]
    fn a_full_disk_is_told_apart_whatever_the_engine_was_doing() {
        assert_eq!(
            classify("failed to register layer: write /var/lib/docker/overlay2/1a2b/diff/big.bin: no space left on device"),
            Some(DiskFull)
        );
        assert_eq!(
            classify("the engine refused the request (HTTP 500): mkdir /var/lib/docker/tmp/docker-export-123: no space left on device"),
            Some(DiskFull)
        );
    }

    #[test]
    fn a_refused_engine_pull_is_told_apart() {
        assert_eq!(
            classify("pull access denied for registry.lan:5000/team/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"),
            Some(PullUnauthorized)
        );
        assert_eq!(
            classify(
                r#"Head "https://registry.lan/v2/team/app/manifests/1": no basic auth credentials"#
            ),
            Some(PullUnauthorized)
        );
        assert_eq!(
            classify("unauthorized: authentication required"),
            Some(PullUnauthorized)
        );
        // Docker 26 on the containerd store.
        assert_eq!(
            classify(
                r#"failed to resolve reference "registry.lan/team/app:1": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"#
            ),
            Some(PullUnauthorized)
        );
    }

    #[test]
    fn a_missing_manifest_is_told_apart() {
        assert_eq!(
            classify("manifest for 127.0.0.1:5000/team/app:9 not found: manifest unknown: manifest unknown"),
            Some(ManifestUnknown)
        );
        // Docker 26 on the containerd store.
        assert_eq!(
            classify(
                r#"failed to resolve reference "127.0.0.1:5000/team/app:9": 127.0.0.1:5000/team/app:9: not found"#
            ),
            Some(ManifestUnknown)
        );
        // Podman.
        assert_eq!(
            classify("initializing source docker://127.0.0.1:5000/team/app:9: reading manifest 9 in 127.0.0.1:5000/team/app: manifest unknown"),
            Some(ManifestUnknown)
        );
    }

    #[test]
    fn a_socket_the_user_may_not_use_is_told_apart() {
        assert_eq!(
            classify("permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock"),
            Some(PermissionDenied)
        );
    }

    #[test]
    fn other_failures_stay_unclassified() {
        assert_eq!(classify("No such image: slipway-test/absent:1"), None);
        assert_eq!(classify("No such container: absent"), None);
        assert_eq!(classify("Container 4f1c0e2b9a7d is not running"), None);
        assert_eq!(
            classify(
                r#"OCI runtime exec failed: exec failed: unable to start container process: exec: "/x": permission denied: unknown"#
            ),
            None
        );
        assert_eq!(
            classify(
                "Get \"https://registry.lan/v2/\": http: server gave HTTP response to HTTPS client"
            ),
            None
        );
    }
}
