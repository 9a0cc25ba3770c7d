//! A raw HTTP/1.1 client over `std::net::TcpStream`: the test decides every byte on the wire
//! (duplicate headers, odd casing, `Expect`, truncated bodies), nothing is added behind its back.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

/// How long a read may block before the test gives up on the server.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP/1.1 request, written to the wire exactly as held: headers in order, names as spelled.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The request target as sent: an origin-form path with its raw (already encoded) query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// A request with no headers and no body. Add `host` yourself (see `Proxy::request`).
    pub fn new(method: &str, target: &str) -> Request {
        Request {
            method: method.to_string(),
            target: target.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Appends a header (even if one with that name exists: duplicates are the caller's choice).
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body and a matching `content-length` header (replacing any).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        let len = self.body.len().to_string();
        self.set_header("content-length", &len);
        self
    }

    /// The value of the first header named `name` (any case).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Replaces the value of every header named `name` (any case), or appends it.
    pub fn set_header(&mut self, name: &str, value: &str) {
        let mut found = false;
        for (n, v) in self.headers.iter_mut() {
            if n.eq_ignore_ascii_case(name) {
                *v = value.to_string();
                found = true;
            }
        }
        if !found {
            self.headers.push((name.to_string(), value.to_string()));
        }
    }

    /// Removes every header named `name` (any case).
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The query parameters of the target, still percent-encoded, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        match self.target.split_once('?') {
            None => Vec::new(),
            Some((_, query)) => query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (p.to_string(), String::new()),
                })
                .collect(),
        }
    }

    /// Replaces the raw (encoded) value of query parameter `name`; panics if it is absent.
    pub fn set_query_param(&mut self, name: &str, encoded_value: &str) {
        let (path, query) = self.target.split_once('?').expect("target has a query");
        let mut found = false;
        let query: Vec<String> = query
            .split('&')
            .map(|p| {
                let key = p.split_once('=').map_or(p, |(k, _)| k);
                if key == name {
                    found = true;
                    format!("{name}={encoded_value}")
                } else {
                    p.to_string()
                }
            })
            .collect();
        assert!(found, "query parameter {name} not in {}", self.target);
        self.target = format!("{path}?{}", query.join("&"));
    }

    /// The raw (encoded) value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The request line and headers, ending with the blank line.
    pub fn head_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.target).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// Head and body, exactly as they go on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.head_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Interim (1xx) statuses received before the final one, in order.
    pub interim: Vec<u16>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy), for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `<Code>` of an S3 XML error body.
    pub fn s3_error_code(&self) -> Option<String> {
        xml_element(&self.text(), "Code")
    }

    /// The `<Message>` of an S3 XML error body.
    pub fn s3_error_message(&self) -> Option<String> {
        xml_element(&self.text(), "Message")
    }

    /// Asserts an S3 error answer: this status, this `<Code>`, inside `<Error>`.
    #[track_caller]
    pub fn assert_s3_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.s3_error_code().as_deref()),
            (status, Some(code)),
            "expected {status} {code}, got {self:#?}\nbody: {}",
            self.text()
        );
        assert!(
            self.text().contains("<Error>") && self.text().contains("<RequestId>"),
            "not an S3 error document: {}",
            self.text()
        );
    }

    /// Asserts a 2xx answer, showing the body otherwise.
    #[track_caller]
    pub fn assert_success(&self) {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {} {:?}\nbody: {}",
            self.status,
            self.headers,
            self.text()
        );
    }
}

/// The text of the first `<name>…</name>` element in `xml`.
pub fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(xml[start..end].to_string())
}

/// Sends `request` on a fresh connection and reads the answer.
///
/// The request is written from a second thread while this one reads, as a real client does: a
/// server that answers early (and stops reading) must not deadlock the test, and its answer must
/// still be read.
pub fn send(addr: SocketAddr, request: &Request) -> Response {
    let mut connection = Connection::open(addr);
    let bytes = request.to_bytes();
    let mut writer = connection.stream.try_clone().expect("clone stream");
    let write_thread = std::thread::spawn(move || {
        // A server may close after answering early; the reader reports what matters.
        let _ = writer.write_all(&bytes);
    });
    let response = connection
        .read_response(&request.method)
        .unwrap_or_else(|e| panic!("no response to {} {}: {e}", request.method, request.target));
    let _ = write_thread.join();
    response
}

/// One client connection, driven step by step.
pub struct Connection {
    stream: TcpStream,
    buffered: Vec<u8>,
}

impl Connection {
    /// Connects to `addr`.
    pub fn open(addr: SocketAddr) -> Connection {
        Connection::try_open(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"))
    }

    /// Connects to `addr`, returning the error.
    pub fn try_open(addr: SocketAddr) -> io::Result<Connection> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buffered: Vec::new(),
        })
    }

    /// Writes bytes; an error (the server closed) is returned, not a panic.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Half-closes: the server reads end-of-stream, we can still read its answer.
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Sets how long a read may block.
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.stream
            .set_read_timeout(Some(timeout))
            .expect("set read timeout");
    }

    /// Reads one status line and headers: (status, headers).
    pub fn read_head(&mut self) -> io::Result<(u16, Vec<(String, String)>)> {
        let end = loop {
            if let Some(pos) = find(&self.buffered, b"\r\n\r\n") {
                break pos;
            }
            self.fill()?;
        };
        let head: Vec<u8> = self.buffered.drain(..end + 4).collect();
        let head = String::from_utf8_lossy(&head[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad status line {status_line:?}"),
                )
            })?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        Ok((status, headers))
    }

    /// Reads a whole response to a request with `method`, collecting interim 1xx answers.
    pub fn read_response(&mut self, method: &str) -> io::Result<Response> {
        let mut interim = Vec::new();
        let (status, headers) = loop {
            let (status, headers) = self.read_head()?;
            if (100..200).contains(&status) && status != 101 {
                interim.push(status);
                continue;
            }
            break (status, headers);
        };
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let body = if method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304 {
            Vec::new()
        } else if header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            self.read_chunked()?
        } else if let Some(len) = header("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
            self.read_exact_body(len)?
        } else {
            self.read_to_end()?
        };
        Ok(Response {
            status,
            interim,
            headers,
            body,
        })
    }

    /// Whether the server closed the connection (reads end-of-stream or a reset within `wait`).
    pub fn is_closed_by_server(&mut self, wait: Duration) -> bool {
        self.set_read_timeout(wait);
        let mut buf = [0u8; 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(n) => self.buffered.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
    }

    /// Reads what the server has sent so far. A read interrupted by a signal is tried again, as
    /// `std`'s `read_exact` does: the test process gets signals (a run of 2026-12-06 failed a
    /// form test on an `Interrupted` read mid-response).
    fn fill(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 16 * 1024];
        let n = loop {
            match self.stream.read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                read => break read?,
            }
        };
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        self.buffered.extend_from_slice(&buf[..n]);
        Ok(())
    }

    fn read_exact_body(&mut self, len: usize) -> io::Result<Vec<u8>> {
        while self.buffered.len() < len {
            self.fill()?;
        }
        Ok(self.buffered.drain(..len).collect())
    }

    fn read_line(&mut self) -> io::Result<String> {
        let end = loop {
            if let Some(pos) = find(&self.buffered, b"\r\n") {
                break pos;
            }
            self.fill()?;
        };
        let line: Vec<u8> = self.buffered.drain(..end + 2).collect();
        Ok(String::from_utf8_lossy(&line[..end]).into_owned())
    }

    fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size {line:?}"),
                )
            })?;
            if size == 0 {
                // Trailers until the blank line.
                while !self.read_line()?.is_empty() {}
                return Ok(body);
            }
            body.extend(self.read_exact_body(size)?);
            self.read_line()?;
        }
    }

    fn read_to_end(&mut self) -> io::Result<Vec<u8>> {
        let mut rest = std::mem::take(&mut self.buffered);
        match self.stream.read_to_end(&mut rest) {
            Ok(_) => Ok(rest),
            // A reset after the answer was sent: keep what arrived.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(rest),
            Err(e) => Err(e),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
