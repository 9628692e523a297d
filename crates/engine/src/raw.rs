//! One HTTP/1.0 request on the engine's unix socket, for the few answers bollard does not give:
//! the headers of `/_ping` (bollard returns only its body), libpod's own endpoints (bollard
//! speaks only the Docker API), and the push's progress lines with their layer ids (bollard's
//! model drops them). HTTP/1.0, so the answer is the body up to the close, never chunked.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// The longest answer read back; Podman's push and pull report a few lines per layer.
const MAX_ANSWER: u64 = 4 << 20;

/// An engine's answer: status, headers (names lower-cased) and body.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The longest line of an answer's head that [`stream`] reads.
const MAX_HEAD_LINE: u64 = 64 << 10;

/// Sends `method path` like [`request`] and reads the answer's status line and headers; returns
/// the status and the body, to read as it arrives (a push's progress lasts as long as the push).
pub(crate) async fn stream(
    socket: &str,
    method: &str,
    path: &str,
    extra: &str,
) -> std::io::Result<(u16, BufReader<tokio::net::UnixStream>)> {
    let request =
        format!("{method} {path} HTTP/1.0\r\nHost: engine\r\nContent-Length: 0\r\n{extra}\r\n");
    let mut stream = tokio::net::UnixStream::connect(socket).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    (&mut reader)
        .take(MAX_HEAD_LINE)
        .read_line(&mut status_line)
        .await?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    loop {
        let mut header = String::new();
        let read = (&mut reader)
            .take(MAX_HEAD_LINE)
            .read_line(&mut header)
            .await?;
        if read == 0 || header.trim().is_empty() {
            break;
        }
    }
    Ok((status, reader))
}

/// Sends `method path` with an empty body to the unix socket at `socket` and reads the answer.
/// `extra` is added to the request's headers as written (each line ending in `\r\n`).
pub(crate) async fn request(
    socket: &str,
    method: &str,
    path: &str,
    extra: &str,
) -> std::io::Result<Answer> {
    let request =
        format!("{method} {path} HTTP/1.0\r\nHost: engine\r\nContent-Length: 0\r\n{extra}\r\n");
    let mut stream = tokio::net::UnixStream::connect(socket).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.take(MAX_ANSWER).read_to_end(&mut answer).await?;
    Ok(parse(&String::from_utf8_lossy(&answer)))
}

fn parse(answer: &str) -> Answer {
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn status_headers_and_body_are_read() {
        let a = super::parse(
            "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nServer: Libpod/4.3.1 (linux)\r\n\r\nOK",
        );
        assert_eq!(a.status, 200);
        assert_eq!(a.header("api-version"), Some("1.41"));
        assert_eq!(a.header("server"), Some("Libpod/4.3.1 (linux)"));
        assert_eq!(a.body, "OK");
    }
}
