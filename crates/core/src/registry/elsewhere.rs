//! What another machine needs to pull from and push to a registry Slipway reaches: the exact
//! files for Docker, containerd, Podman and k3s, derived from how Slipway reaches it (plain HTTP,
//! or HTTPS with a private CA, or HTTPS with a public CA, which needs nothing).
//!
//! Slipway itself needs none of this (it speaks to registries directly), but the machines that
//! run the images do, and each tool spells it differently.

use std::path::Path;
use ts_rs::TS;

use serde::{Deserialize, Serialize};

/// One file to write on the other machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Snippet {
    /// `Docker`, `containerd`, `Podman`, `k3s`.
    pub tool: String,
    /// Where it goes.
    pub path: String,
    /// What goes in it (for a CA, the command that copies it there).
    pub content: String,
    /// What to do afterwards.
    pub then: String,
}

/// The "use this registry from another machine" panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Elsewhere {
    pub address: String,
    /// How the other machine must reach it: `http`, `https with a private CA`, `https`.
    pub transport: String,
    /// Said when the address only works on this machine.
    pub warning: Option<String>,
    pub snippets: Vec<Snippet>,
}

/// The snippets for a registry at `address`, reached over HTTP when `allow_http`, else over
/// HTTPS, trusting `ca_file` when given.
pub fn elsewhere(address: &str, allow_http: bool, ca_file: Option<&Path>) -> Elsewhere {
    let a = address;
    let host = a.rsplit_once(':').map_or(a, |(h, _)| h);
    let warning = slipway_oci::reference::host_is_loopback(a).then(|| {
        format!(
            "{host} is this machine's loopback address: other machines cannot reach it. Use this \
             machine's name or LAN address in a profile (the managed registry listens on loopback \
             only; run a registry on a LAN address for other machines)."
        )
    });
    let snippet = |tool: &str, path: String, content: String, then: &str| Snippet {
        tool: tool.to_string(),
        path,
        content,
        then: then.to_string(),
    };
    let ca = ca_file.map(|p| p.display().to_string());
    let (transport, snippets) = if allow_http {
        (
            "http",
            vec![
                snippet(
                    "Docker",
                    "/etc/docker/daemon.json".into(),
                    format!("{{\n  \"insecure-registries\": [\"{a}\"]\n}}\n"),
                    "merge with any existing keys, then: sudo systemctl restart docker",
                ),
                snippet(
                    "containerd",
                    format!("/etc/containerd/certs.d/{a}/hosts.toml"),
                    format!(
                        "server = \"http://{a}\"\n\n[host.\"http://{a}\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n"
                    ),
                    "needs config_path = \"/etc/containerd/certs.d\" under [plugins.\"io.containerd.grpc.v1.cri\".registry] in /etc/containerd/config.toml (then: sudo systemctl restart containerd)",
                ),
                snippet(
                    "Podman",
                    format!("/etc/containers/registries.conf.d/50-{}.conf", file_name(a)),
                    format!("[[registry]]\nlocation = \"{a}\"\ninsecure = true\n"),
                    "takes effect on the next podman command",
                ),
                snippet(
                    "k3s",
                    "/etc/rancher/k3s/registries.yaml".into(),
                    format!("mirrors:\n  \"{a}\":\n    endpoint:\n      - \"http://{a}\"\n"),
                    "then: sudo systemctl restart k3s (k3s-agent on agents)",
                ),
            ],
        )
    } else if let Some(ca) = ca {
        (
            "https with a private CA",
            vec![
                snippet(
                    "Docker",
                    format!("/etc/docker/certs.d/{a}/ca.crt"),
                    format!("sudo mkdir -p /etc/docker/certs.d/{a}\nsudo cp {ca} /etc/docker/certs.d/{a}/ca.crt\n"),
                    "no restart needed",
                ),
                snippet(
                    "containerd",
                    format!("/etc/containerd/certs.d/{a}/hosts.toml"),
                    format!(
                        "server = \"https://{a}\"\n\n[host.\"https://{a}\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n  ca = \"/etc/containerd/certs.d/{a}/ca.crt\"\n"
                    ),
                    "copy the CA beside it as ca.crt; needs config_path = \"/etc/containerd/certs.d\" in /etc/containerd/config.toml",
                ),
                snippet(
                    "Podman",
                    format!("/etc/containers/certs.d/{a}/ca.crt"),
                    format!("sudo mkdir -p /etc/containers/certs.d/{a}\nsudo cp {ca} /etc/containers/certs.d/{a}/ca.crt\n"),
                    "takes effect on the next podman command",
                ),
                snippet(
                    "k3s",
                    "/etc/rancher/k3s/registries.yaml".into(),
                    format!(
                        "mirrors:\n  \"{a}\":\n    endpoint:\n      - \"https://{a}\"\nconfigs:\n  \"{a}\":\n    tls:\n      ca_file: /etc/rancher/k3s/{}-ca.crt\n",
                        file_name(a)
                    ),
                    "copy the CA to that ca_file, then: sudo systemctl restart k3s",
                ),
            ],
        )
    } else {
        ("https", vec![])
    };
    Elsewhere {
        address: a.to_string(),
        transport: transport.to_string(),
        warning,
        snippets,
    }
}

/// `host:port` as a file name (`host_port`).
fn file_name(address: &str) -> String {
    address.replace([':', '/'], "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http_registry_gets_insecure_entries_for_every_tool() {
        let e = elsewhere("registry.lan:5000", true, None);
        assert_eq!(e.transport, "http");
        assert!(e.warning.is_none());
        let docker = &e.snippets[0];
        let json: serde_json::Value = serde_json::from_str(&docker.content).unwrap();
        assert_eq!(json["insecure-registries"][0], "registry.lan:5000");
        let tools: Vec<_> = e.snippets.iter().map(|s| s.tool.as_str()).collect();
        assert_eq!(tools, ["Docker", "containerd", "Podman", "k3s"]);
        assert!(e.snippets[1]
            .content
            .contains("server = \"http://registry.lan:5000\""));
        assert!(e.snippets[2].content.contains("insecure = true"));
        assert!(e.snippets[3]
            .content
            .contains("- \"http://registry.lan:5000\""));
    }

    #[test]
    fn a_private_ca_goes_to_certs_d_named_after_host_and_port() {
        let e = elsewhere(
            "registry.lan:5443",
            false,
            Some(Path::new("/home/a/lan-ca.pem")),
        );
        assert_eq!(
            e.snippets[0].path,
            "/etc/docker/certs.d/registry.lan:5443/ca.crt"
        );
        assert!(e.snippets[0].content.contains("cp /home/a/lan-ca.pem"));
        assert!(e.snippets[3].content.contains("ca_file:"));
    }

    #[test]
    fn loopback_is_flagged_and_a_public_ca_needs_nothing() {
        assert!(elsewhere("127.0.0.1:5000", true, None).warning.is_some());
        assert!(elsewhere("registry.example.com", false, None)
            .snippets
            .is_empty());
    }
}
