//! The exchange bench's load generator speaks HTTP/1.1 itself, as wrk does: one request at a
//! time on a kept-alive TLS connection, its bytes built once. On two shared cores every
//! microsecond the load generator spends is taken from the server it measures, and a
//! general-purpose client (pooling, header maps, body streams) spent about as much per
//! request as the server's own non-cryptographic work.

use anyhow::{anyhow, bail, Context, Result};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Response heads wid sends are a few hundred bytes; anything longer is not wid.
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 1024 * 1024;

/// A complete HTTP/1.1 request, sendable any number of times on a kept-alive connection.
pub struct Request {
    bytes: Vec<u8>,
}

impl Request {
    /// A form POST to `path` on `host` (as the URL names it, with its port).
    pub fn form_post(host: &str, path: &str, form: &[(&str, &str)]) -> Request {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut bytes = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        Request { bytes }
    }

    /// A GET of `path` on `host` with a bearer token, as a Key Vault SDK reads a secret.
    pub fn get(host: &str, path: &str, token: &str) -> Request {
        Request {
            bytes: format!(
                "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
            .into_bytes(),
        }
    }

    /// A JSON POST to `path` on `host` with a bearer token, as the Key Vault SDKs send one.
    pub fn json_post(host: &str, path: &str, token: &str, body: &serde_json::Value) -> Request {
        Request::json(
            host,
            path,
            &format!("Authorization: Bearer {token}\r\n"),
            body.to_string().as_bytes(),
        )
    }

    /// A JSON POST of `body` with no credentials, as the API server sends an AdmissionReview.
    pub fn json_post_anonymous(host: &str, path: &str, body: &[u8]) -> Request {
        Request::json(host, path, "", body)
    }

    fn json(host: &str, path: &str, extra_headers: &str, body: &[u8]) -> Request {
        let mut bytes = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\n{extra_headers}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        Request { bytes }
    }
}

pub struct Connection {
    tls: TlsStream<TcpStream>,
    buf: Vec<u8>,
}

impl Connection {
    /// A TLS connection to `base_url`'s host and port, trusting `tls`'s roots.
    pub async fn open(base_url: &str, tls: Arc<rustls::ClientConfig>) -> Result<Connection> {
        let url = url::Url::parse(base_url)?;
        let host = url
            .host_str()
            .ok_or_else(|| anyhow!("{base_url} has no host"))?;
        let port = url.port_or_known_default().unwrap_or(443);
        let addr = tokio::net::lookup_host((host, port))
            .await
            .with_context(|| format!("resolving {host}"))?
            .next()
            .ok_or_else(|| anyhow!("{host} resolves to nothing"))?;
        Connection::open_at(host, addr, tls).await
    }

    /// A TLS connection to `addr` for the server named `host`, as a client that pins a name
    /// to an address (the CLI does for vault hosts) opens it.
    pub async fn open_at(
        host: &str,
        addr: std::net::SocketAddr,
        tls: Arc<rustls::ClientConfig>,
    ) -> Result<Connection> {
        let tcp = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        tcp.set_nodelay(true)?;
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())?;
        let tls = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await?;
        Ok(Connection {
            tls,
            buf: Vec::with_capacity(8192),
        })
    }

    /// Sends `request` and reads its response whole: the status and the body. Only
    /// `Content-Length` framing is understood, which is how wid answers.
    pub async fn send(&mut self, request: &Request) -> Result<(u16, &[u8])> {
        self.tls.write_all(&request.bytes).await?;
        self.buf.clear();
        let (status, head_len, body_len) = loop {
            self.fill().await?;
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head_len) = response.parse(&self.buf)? {
                let length = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .ok_or_else(|| anyhow!("response without Content-Length"))?;
                let body_len: usize = std::str::from_utf8(length.value)?.trim().parse()?;
                if body_len > MAX_BODY {
                    bail!("response body of {body_len} bytes");
                }
                break (response.code.unwrap_or(0), head_len, body_len);
            }
            if self.buf.len() > MAX_HEAD {
                bail!("response head over {MAX_HEAD} bytes");
            }
        };
        while self.buf.len() < head_len + body_len {
            self.fill().await?;
        }
        if self.buf.len() > head_len + body_len {
            bail!("bytes after the response: the server answered what was not asked");
        }
        Ok((status, &self.buf[head_len..]))
    }

    async fn fill(&mut self) -> Result<()> {
        let start = self.buf.len();
        self.buf.resize(start + 8192, 0);
        let n = self.tls.read(&mut self.buf[start..]).await?;
        self.buf.truncate(start + n);
        if n == 0 {
            bail!("connection closed mid-response");
        }
        Ok(())
    }
}
