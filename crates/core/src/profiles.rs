//! Registry profiles: where a registry is and how to reach it, persisted as JSON under the user's
//! config dir (`<config>/slipway/registries.json`).
//!
//! A profile never holds a secret. Passwords live in the credential store; the profile only says
//! which username to look up there, or that the user's Docker credentials apply. That keeps the
//! profile file safe to back up, share or show in a bug report.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::local_registry;
use crate::registry::{self, RegistryAccess};

/// The name under which the managed local registry appears in every profile list.
pub const LOCAL_PROFILE: &str = "local";

/// One registry the user publishes to or browses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RegistryProfile {
    /// What the user calls it; unique among profiles.
    pub name: String,
    /// `host` or `host:port`, without a scheme or path (for example `127.0.0.1:5000`).
    pub address: String,
    /// Whether plain HTTP is allowed. Off by default because credentials would travel in clear.
    #[serde(default)]
    pub allow_http: bool,
    /// A PEM file with the CA that signed the registry's certificate, for private CAs.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The username whose password the credential store keeps for this address.
    #[serde(default)]
    pub username: Option<String>,
    /// Use the credentials `docker login` stored (`~/.docker/config.json`) instead of our own.
    #[serde(default)]
    pub use_docker_credentials: bool,
    /// True only for the built-in profile of Slipway's managed local registry; it is not stored.
    #[serde(default)]
    pub managed: bool,
}

impl RegistryProfile {
    /// The built-in profile for the managed local registry (see [`local_registry`]).
    pub fn local() -> Self {
        RegistryProfile {
            name: LOCAL_PROFILE.to_string(),
            address: local_registry::default_address(),
            // The managed registry listens on loopback only, where TLS adds nothing.
            allow_http: true,
            ca_file: None,
            username: None,
            use_docker_credentials: false,
            managed: true,
        }
    }
}

impl RegistryProfile {
    /// How the registry use cases reach this registry. Secrets are never in the profile: a
    /// username or "use my Docker credentials" means the credential store is consulted.
    pub fn access(&self) -> RegistryAccess {
        RegistryAccess {
            insecure: self.allow_http,
            ca_file: self.ca_file.clone(),
            credentials: None,
            anonymous: self.username.is_none() && !self.use_docker_credentials,
        }
    }

    /// Like [`Self::access`], with a password typed just now (for Test before saving).
    pub fn access_with_password(&self, password: Option<&str>) -> RegistryAccess {
        let mut access = self.access();
        if let (Some(user), Some(pw)) = (self.username.as_deref(), password) {
            if !pw.is_empty() {
                access.credentials = Some(slipway_oci::Credentials::new(user, pw));
            }
        }
        access
    }

    /// `address/path`, e.g. `127.0.0.1:5000/team/app:1.0` for `team/app:1.0`.
    pub fn reference(&self, path: &str) -> String {
        format!("{}/{}", self.address, path.trim_start_matches('/'))
    }
}

/// Checks `password` for the profile's username against the registry and, when it works, keeps it
/// in the credential store (docker's, so `docker` and Slipway share one login).
pub async fn remember_password(profile: &RegistryProfile, password: &str) -> crate::Result<()> {
    let username = profile.username.as_deref().ok_or_else(|| {
        crate::Error::InvalidInput(
            "a password needs a username; fill in the username or clear the password".to_string(),
        )
    })?;
    registry::login(
        &profile.address,
        slipway_oci::Credentials::new(username, password),
        &profile.access(),
    )
    .await
}

/// What went wrong with a profile, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("invalid registry profile: {0}")]
    Invalid(String),
    #[error("there is no registry profile named {0:?}; add it under Registries first")]
    NotFound(String),
    #[error("the profile {0:?} is built in and cannot be changed or removed; add a profile with another name")]
    BuiltIn(String),
    #[error("could not find the user's config directory (is $HOME set?); set XDG_CONFIG_HOME")]
    NoConfigDir,
    #[error("could not read or write {path}: {source}; check its permissions")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid profile file ({source}); fix or remove it and add the profiles again")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl ProfileError {
    /// A stable code the UI and scripts can match on.
    pub fn code(&self) -> &'static str {
        match self {
            ProfileError::Invalid(_) => "invalid_profile",
            ProfileError::NotFound(_) => "not_found",
            ProfileError::BuiltIn(_) => "invalid_profile",
            ProfileError::NoConfigDir => "io",
            ProfileError::Io { .. } => "io",
            ProfileError::Corrupt { .. } => "io",
        }
    }
}

impl From<ProfileError> for crate::ErrorDto {
    fn from(e: ProfileError) -> Self {
        crate::ErrorDto {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

/// Checks an address is `host` or `host:port` and says which part is wrong when it is not.
pub fn validate_address(address: &str) -> Result<(), ProfileError> {
    let bad = |why: &str| Err(ProfileError::Invalid(format!("address {address:?}: {why}")));
    if address.is_empty() {
        return bad("it is empty; enter host or host:port, e.g. 127.0.0.1:5000");
    }
    if address.contains("://") {
        return bad(
            "leave out the scheme (http:// or https://); tick \"Allow plain HTTP\" for HTTP",
        );
    }
    if address.contains('/') {
        return bad("it must not contain a path; enter only host or host:port");
    }
    if address.chars().any(char::is_whitespace) {
        return bad("it must not contain spaces");
    }
    let (host, port) = match address.rsplit_once(':') {
        // An IPv6 literal in brackets has colons of its own; only a colon after `]` starts a port.
        Some((h, p)) if !h.is_empty() && (!address.starts_with('[') || h.ends_with(']')) => {
            (h, Some(p))
        }
        _ => (address, None),
    };
    if host.is_empty() {
        return bad("the host is missing");
    }
    let host_ok = if host.starts_with('[') {
        host.ends_with(']')
    } else {
        host.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
    };
    if !host_ok {
        return bad("the host may only contain letters, digits, dots and dashes");
    }
    if let Some(p) = port {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => {}
            _ => return bad("the port must be a number from 1 to 65535"),
        }
    }
    // The reference grammar reads a first component without `.`, `:` or `localhost` as a Docker
    // Hub namespace: `nas/app` is docker.io/nas/app. Such an address would send tags, deletes and
    // pushes to Docker Hub with the user's Docker Hub credentials, so it is refused.
    if port.is_none() && !host.contains('.') && !host.starts_with('[') && host != "localhost" {
        return bad(&format!(
            "a single name reads as a Docker Hub namespace in image names ({host}/app means \
             docker.io/{host}/app); add the port ({host}:5000, or {host}:443 for HTTPS on the \
             default port) or the domain ({host}.lan)"
        ));
    }
    Ok(())
}

fn validate(profile: &RegistryProfile) -> Result<(), ProfileError> {
    if profile.name.trim().is_empty() {
        return Err(ProfileError::Invalid(
            "the name is empty; give the registry a name".into(),
        ));
    }
    validate_address(&profile.address)?;
    if let Some(ca) = &profile.ca_file {
        if !ca.as_os_str().is_empty() && !ca.is_file() {
            return Err(ProfileError::Invalid(format!(
                "CA file {} does not exist; give the path of a PEM file or leave it empty",
                ca.display()
            )));
        }
    }
    Ok(())
}

/// The profile file. Reads and writes are whole-file: profiles are few and small.
#[derive(Clone, Debug)]
pub struct ProfileStore {
    path: PathBuf,
}

#[derive(Default, Serialize, Deserialize)]
struct ProfileFile {
    #[serde(default)]
    registries: Vec<RegistryProfile>,
}

impl ProfileStore {
    /// The store at `<config dir>/slipway/registries.json`.
    pub fn at_default_path() -> Result<Self, ProfileError> {
        let dir = dirs::config_dir().ok_or(ProfileError::NoConfigDir)?;
        Ok(Self::at(dir.join("slipway").join("registries.json")))
    }

    /// A store at an explicit path (tests use a temp dir).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        ProfileStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<ProfileFile, ProfileError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| ProfileError::Corrupt {
                path: self.path.clone(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ProfileFile::default()),
            Err(source) => Err(ProfileError::Io {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Writes through a private temp file and a rename, so a crash never leaves half a profile
    /// file (see [`slipway_oci::files`]).
    fn write(&self, file: &ProfileFile) -> Result<(), ProfileError> {
        let json = serde_json::to_vec_pretty(file).expect("profiles always serialize");
        slipway_oci::files::write_private(&self.path, &json).map_err(|source| ProfileError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Held around every read-modify-write, so the app and the CLI cannot lose each other's
    /// change.
    fn lock(&self) -> Result<slipway_oci::files::FileLock, ProfileError> {
        slipway_oci::files::lock(&self.path).map_err(|source| ProfileError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// All profiles, the managed local registry first (it is the default).
    pub fn list(&self) -> Result<Vec<RegistryProfile>, ProfileError> {
        let mut out = vec![RegistryProfile::local()];
        out.extend(
            self.read()?
                .registries
                .into_iter()
                .filter(|p| p.name != LOCAL_PROFILE),
        );
        Ok(out)
    }

    /// The profile to use, checked again: a profile saved by an older version may hold an
    /// address that is refused now (a single name), and using it would reach another registry.
    pub fn get(&self, name: &str) -> Result<RegistryProfile, ProfileError> {
        let profile = self
            .list()?
            .into_iter()
            .find(|p| p.name == name)
            .ok_or_else(|| ProfileError::NotFound(name.to_string()))?;
        validate_address(&profile.address)?;
        Ok(profile)
    }

    /// Adds or replaces (by name) a profile after validating it.
    pub fn save(&self, mut profile: RegistryProfile) -> Result<RegistryProfile, ProfileError> {
        profile.name = profile.name.trim().to_string();
        profile.address = profile.address.trim().to_string();
        if profile
            .ca_file
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            profile.ca_file = None;
        }
        if profile.name == LOCAL_PROFILE {
            return Err(ProfileError::BuiltIn(profile.name));
        }
        validate(&profile)?;
        profile.managed = false;
        let _lock = self.lock()?;
        let mut file = self.read()?;
        match file.registries.iter_mut().find(|p| p.name == profile.name) {
            Some(existing) => *existing = profile.clone(),
            None => file.registries.push(profile.clone()),
        }
        self.write(&file)?;
        Ok(profile)
    }

    pub fn remove(&self, name: &str) -> Result<(), ProfileError> {
        if name == LOCAL_PROFILE {
            return Err(ProfileError::BuiltIn(name.to_string()));
        }
        let _lock = self.lock()?;
        let mut file = self.read()?;
        let before = file.registries.len();
        file.registries.retain(|p| p.name != name);
        if file.registries.len() == before {
            return Err(ProfileError::NotFound(name.to_string()));
        }
        self.write(&file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, address: &str) -> RegistryProfile {
        RegistryProfile {
            name: name.into(),
            address: address.into(),
            allow_http: true,
            ca_file: None,
            username: Some("alice".into()),
            use_docker_credentials: false,
            managed: false,
        }
    }

    #[test]
    fn profiles_round_trip_and_keep_local_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProfileStore::at(dir.path().join("slipway/registries.json"));
        assert_eq!(store.list().unwrap()[0].name, LOCAL_PROFILE);
        store
            .save(profile("team", "registry.example:5000"))
            .unwrap();
        store
            .save(profile("team", "registry.example:5001"))
            .unwrap();
        let all = store.list().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].address, "registry.example:5001");
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(
            !text.contains("password"),
            "the profile file holds no secret"
        );
        store.remove("team").unwrap();
        assert!(matches!(
            store.remove("team"),
            Err(ProfileError::NotFound(_))
        ));
        assert!(matches!(
            store.remove(LOCAL_PROFILE),
            Err(ProfileError::BuiltIn(_))
        ));
    }

    #[test]
    fn wrong_addresses_say_what_is_wrong() {
        for (addr, needle) in [
            ("http://x:5000", "scheme"),
            ("x:5000/v2", "path"),
            ("x:99999", "port"),
            ("bad host", "spaces"),
            ("", "empty"),
            ("nas", "Docker Hub"),
        ] {
            let err = validate_address(addr).unwrap_err().to_string();
            assert!(err.contains(needle), "{addr:?} gave {err}");
        }
        for ok in [
            "127.0.0.1:5000",
            "localhost",
            "registry.example.com",
            "[::1]:5000",
            "nas:5000",
            "nas:443",
        ] {
            validate_address(ok).unwrap();
        }
    }

    #[test]
    fn a_single_label_address_never_reaches_docker_hub() {
        let dir = tempfile::tempdir().unwrap();
        let store = ProfileStore::at(dir.path().join("slipway/registries.json"));
        let err = store.save(profile("nas", "nas")).unwrap_err().to_string();
        assert!(
            err.contains("docker.io/nas/app") && err.contains("nas:5000"),
            "{err}"
        );
        // A profile file written before this check: using the profile is refused, not rerouted.
        std::fs::create_dir_all(store.path().parent().unwrap()).unwrap();
        std::fs::write(
            store.path(),
            r#"{"registries":[{"name":"nas","address":"nas","username":"alice"}]}"#,
        )
        .unwrap();
        assert_eq!(
            store.list().unwrap().len(),
            2,
            "it is still listed, to be fixed"
        );
        let err = store.get("nas").unwrap_err().to_string();
        assert!(err.contains("Docker Hub"), "{err}");
        // With a port the host is a host, for every use case that re-parses the reference.
        let fixed = store.save(profile("nas", "nas:5000")).unwrap();
        let r = slipway_oci::Reference::parse(&fixed.reference("team/app:1")).unwrap();
        assert_eq!(r.registry(), "nas:5000");
    }

    #[cfg(unix)]
    #[test]
    fn the_profile_file_is_private_and_concurrent_saves_keep_every_profile() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("slipway/registries.json");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = ProfileStore::at(&path);
                std::thread::spawn(move || {
                    for j in 0..10 {
                        store
                            .save(profile(&format!("p{i}-{j}"), "registry.example:5000"))
                            .unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(ProfileStore::at(&path).list().unwrap().len(), 81);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }
}
