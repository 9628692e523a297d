//! The engine adapter's error type.
//!
//! bollard's errors are transport-shaped (status codes, hyper errors); ours are shaped by what the
//! caller can do about them, so that core can give each a stable code without string matching.

/// One place where we looked for an engine and why it did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The endpoint as the user would write it, e.g. `unix:///var/run/docker.sock`.
    pub endpoint: String,
    /// Where this candidate came from, e.g. `DOCKER_HOST` or `Docker's default socket`.
    pub source: String,
    /// Why it did not answer.
    pub reason: String,
}

/// Every failure the engine adapter reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No engine answered at any of the places we looked.
    #[error("{}", unreachable_message(.attempts))]
    Unreachable {
        /// Each candidate endpoint, in the order it was tried.
        attempts: Vec<Attempt>,
    },
    /// The engine answered 404: the image, container or exec does not exist.
    #[error("{message}")]
    NotFound {
        /// The engine's own message, which names the missing object.
        message: String,
    },
    /// The engine answered 409: the object is in a state that forbids the operation (e.g. removing
    /// a running container, or an image used by a container).
    #[error("{message}")]
    Conflict {
        /// The engine's own message.
        message: String,
    },
    /// The engine refused the request for another reason (400, 500, ...).
    #[error("the engine refused the request (HTTP {status}): {message}")]
    Refused {
        /// The HTTP status code.
        status: u16,
        /// The engine's own message.
        message: String,
    },
    /// A progress or output stream carried an error in-band (e.g. a pull that failed halfway).
    #[error("{message}")]
    Stream {
        /// The engine's message from the stream.
        message: String,
    },
    /// The engine's image export could not be read: it was cut short, malformed, or ended with
    /// the engine's own error.
    #[error("{message}")]
    Export {
        /// What was wrong, and what to do.
        message: String,
    },
    /// The caller asked for something the engine API cannot express.
    #[error("{0}")]
    InvalidInput(String),
    /// The operation was cancelled by the caller.
    #[error("the operation was cancelled")]
    Cancelled,
    /// The engine answered once but the connection to it failed later: it stopped, restarted or
    /// took longer than the request timeout.
    #[error("lost the connection to the container engine ({message}); make sure it is running (`sudo systemctl start docker`) and try again")]
    Disconnected {
        /// What the transport said.
        message: String,
    },
    /// A response could not be decoded, or another transport-level failure.
    #[error("talking to the engine failed: {0}")]
    Transport(#[source] bollard::errors::Error),
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn unreachable_message(attempts: &[Attempt]) -> String {
    let mut message = String::from("no container engine is reachable. Looked at:\n");
    for attempt in attempts {
        message.push_str(&format!(
            "  - {} ({}): {}\n",
            attempt.endpoint, attempt.source, attempt.reason
        ));
    }
    message.push_str(
        "To fix: start the engine (`sudo systemctl start docker`, or `systemctl --user start \
         podman.socket` for Podman); or set DOCKER_HOST to the engine's socket (e.g. \
         unix:///var/run/docker.sock or tcp://host:2375); if the socket exists but permission is \
         denied, add yourself to the docker group (`sudo usermod -aG docker $USER`, then log in \
         again).",
    );
    message
}

impl From<bollard::errors::Error> for Error {
    fn from(error: bollard::errors::Error) -> Self {
        use bollard::errors::Error as B;
        match error {
            B::DockerResponseServerError {
                status_code,
                message,
            } => match status_code {
                404 => Error::NotFound { message },
                409 => Error::Conflict { message },
                status => Error::Refused { status, message },
            },
            B::DockerStreamError { error } => Error::Stream { message: error },
            B::IOError { .. }
            | B::HyperLegacyError { .. }
            | B::SocketNotFoundError(_)
            | B::RequestTimeoutError => Error::Disconnected {
                message: error.to_string(),
            },
            other => Error::Transport(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_statuses_map_to_what_the_caller_can_do() {
        let server = |status_code| bollard::errors::Error::DockerResponseServerError {
            status_code,
            message: "No such image: x:1".to_string(),
        };
        assert!(matches!(Error::from(server(404)), Error::NotFound { .. }));
        assert!(matches!(Error::from(server(409)), Error::Conflict { .. }));
        assert!(matches!(
            Error::from(server(500)),
            Error::Refused { status: 500, .. }
        ));
        let stream = bollard::errors::Error::DockerStreamError {
            error: "manifest unknown".to_string(),
        };
        assert!(matches!(Error::from(stream), Error::Stream { .. }));
        let io = bollard::errors::Error::IOError {
            err: std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        };
        assert!(matches!(Error::from(io), Error::Disconnected { .. }));
    }

    #[test]
    fn unreachable_lists_every_place_and_the_fixes() {
        let error = Error::Unreachable {
            attempts: vec![
                Attempt {
                    endpoint: "unix:///var/run/docker.sock".into(),
                    source: "Docker's default socket".into(),
                    reason: "no socket at this path".into(),
                },
                Attempt {
                    endpoint: "unix:///run/podman/podman.sock".into(),
                    source: "Podman's rootful socket".into(),
                    reason: "connection refused".into(),
                },
            ],
        };
        let message = error.to_string();
        assert!(message.contains("unix:///var/run/docker.sock"));
        assert!(message.contains("unix:///run/podman/podman.sock"));
        assert!(message.contains("systemctl start docker"));
        assert!(message.contains("DOCKER_HOST"));
        assert!(message.contains("docker group"));
    }
}
