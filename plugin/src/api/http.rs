//! Just enough HTTP/1.1 for the API: a request head read with a size cap, a body read to its
//! `Content-Length` (no chunked uploads), one response per connection, and the checks that
//! keep web pages out (`Host`, `Origin`, `Content-Type`) and the token in.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The largest request head.
pub const MAX_HEAD: usize = 16 << 10;

/// The largest request body (an OpenAI request holds at most 4096 characters of input).
pub const MAX_BODY: usize = 64 << 10;

/// How long a client may take to send its request head: a real client sends it at once.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a client may take to send its request body.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query (after `?`), possibly empty.
    pub query: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Bytes after the head that were read with it (the body's start).
    pub rest: Vec<u8>,
}

impl Request {
    /// A header's value (first occurrence; name lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter's value, percent-decoded (`+` read as a space, as forms send it).
    /// A value that does not decode to UTF-8 is returned as sent.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k).as_deref() == Some(name))
                .then(|| percent_decode(v).unwrap_or_else(|| v.to_owned()))
        })
    }

    /// Whether this asks for a WebSocket.
    pub fn is_websocket(&self) -> bool {
        self.header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    }
}

/// Decodes `%XX` escapes and `+` (a space); `None` when an escape is malformed or the bytes are
/// not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Why a request was refused, with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status code.
    pub status: u16,
    /// What the client is told.
    pub message: String,
}

impl Refusal {
    /// A refusal.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// Reads a request head (at most [`MAX_HEAD`] bytes, within [`HEAD_TIMEOUT`]).
pub fn read_head(stream: &mut impl Read) -> Result<Request, Refusal> {
    let started = Instant::now();
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 48];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let target = parsed.path.unwrap_or("/");
                let (path, query) = target.split_once('?').unwrap_or((target, ""));
                return Ok(Request {
                    method: parsed.method.unwrap_or_default().to_owned(),
                    path: path.to_owned(),
                    query: query.to_owned(),
                    headers: parsed
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_ascii_lowercase(),
                                String::from_utf8_lossy(h.value).trim().to_owned(),
                            )
                        })
                        .collect(),
                    rest: buf[len..].to_vec(),
                });
            }
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Refusal::new(431, "too many headers"));
            }
            Err(err) => return Err(Refusal::new(400, format!("malformed request: {err}"))),
        }
        if buf.len() >= MAX_HEAD {
            return Err(Refusal::new(431, "request head too large"));
        }
        if started.elapsed() > HEAD_TIMEOUT {
            return Err(Refusal::new(408, "request took too long"));
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(Refusal::new(400, "connection closed mid-request")),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(Refusal::new(400, format!("read failed: {e}"))),
        }
    }
}

/// Whether an I/O error is a read timeout (the socket's timeout, not a failure).
pub fn is_timeout(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Whether the client has closed the connection (a read would find its end) or it failed.
/// Bytes waiting to be read are not a close; nothing is consumed.
pub fn peer_gone(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let mut byte = [0u8; 1];
    let gone = match stream.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !is_timeout(&e),
    };
    let _ = stream.set_nonblocking(false);
    gone
}

/// Reads the body the head announces (at most [`MAX_BODY`]).
pub fn read_body(stream: &mut impl Read, request: &Request) -> Result<Vec<u8>, Refusal> {
    if request
        .header("transfer-encoding")
        .is_some_and(|v| !v.eq_ignore_ascii_case("identity"))
    {
        return Err(Refusal::new(411, "send the body with a Content-Length"));
    }
    let length: usize = match request.header("content-length") {
        Some(v) => v
            .parse()
            .map_err(|_| Refusal::new(400, "Content-Length is not a number"))?,
        None => 0,
    };
    if length > MAX_BODY {
        return Err(Refusal::new(
            413,
            format!("the body is {length} bytes, more than {MAX_BODY}"),
        ));
    }
    let mut body = request.rest.clone();
    body.truncate(length);
    let started = Instant::now();
    let mut chunk = [0u8; 4096];
    while body.len() < length {
        if started.elapsed() > REQUEST_TIMEOUT {
            return Err(Refusal::new(408, "request took too long"));
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(Refusal::new(400, "connection closed mid-body")),
            Ok(n) => body.extend_from_slice(&chunk[..n.min(length - body.len())]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(Refusal::new(400, format!("read failed: {e}"))),
        }
    }
    Ok(body)
}

/// The checks every request passes before anything else: the `Host` names this server on
/// loopback (a page that rebinds its own name to 127.0.0.1 fails here), an `Origin` if sent
/// is this server's own, and the token if one is set.
pub fn check_access(request: &Request, port: u16, token: &str) -> Result<(), Refusal> {
    let ours = |value: &str| {
        let value = value.trim_end_matches('/');
        ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|host| value == format!("{host}:{port}") || (port == 80 && value == *host))
    };
    match request.header("host") {
        Some(host) if ours(host) => {}
        Some(host) => {
            return Err(Refusal::new(
                403,
                format!("Host `{host}` is not this server (use 127.0.0.1:{port})"),
            ));
        }
        None => return Err(Refusal::new(400, "the request has no Host header")),
    }
    if let Some(origin) = request.header("origin") {
        let bare = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        if !bare.is_some_and(ours) {
            return Err(Refusal::new(
                403,
                format!("cross-site requests are refused (Origin `{origin}`)"),
            ));
        }
    }
    // A page loaded into a frame (or an object or embed) is refused: no route of this server
    // is made to be framed, and a page framing the caption page many times over would hold its
    // connections. OBS's browser source loads the caption page as a document of its own.
    if let Some(dest) = request.header("sec-fetch-dest")
        && ["iframe", "frame", "object", "embed"]
            .iter()
            .any(|d| dest.eq_ignore_ascii_case(d))
    {
        return Err(Refusal::new(
            403,
            format!("this server is not to be framed (Sec-Fetch-Dest `{dest}`)"),
        ));
    }
    if !token.is_empty() {
        // The scheme's name is case-insensitive (RFC 9110, 11.1).
        let bearer = request.header("authorization").and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
        let query = request.query_param("token");
        let sent = bearer.or(query.as_deref());
        if !sent.is_some_and(|s| constant_time_eq(s.as_bytes(), token.as_bytes())) {
            return Err(Refusal::new(
                401,
                "a token is required: send `Authorization: Bearer <token>` or `?token=<token>`",
            ));
        }
    }
    Ok(())
}

/// Compares without stopping at the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A POST must say `Content-Type: application/json`: a web page cannot send that to another
/// site without asking first (a CORS preflight, which this server never grants).
pub fn check_json(request: &Request) -> Result<(), Refusal> {
    let media = request
        .header("content-type")
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    if media.is_some_and(|m| m.eq_ignore_ascii_case("application/json")) {
        Ok(())
    } else {
        Err(Refusal::new(
            415,
            "send the body as `Content-Type: application/json`",
        ))
    }
}

/// Headers on every response that keep browsers from showing it inside another page.
pub const NO_FRAMING: &str =
    "Content-Security-Policy: frame-ancestors 'none'\r\nX-Frame-Options: DENY\r\n";

/// Writes a whole response and closes the exchange.
pub fn respond(
    stream: &mut impl Write,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let mut out = Deadline::new(stream, WRITE_DEADLINE);
    out.write_all(head(status, content_type, Some(body.len())).as_bytes())?;
    out.write_all(body)?;
    out.flush()
}

/// A response's head: with `Content-Length` when `length` is known, else chunked.
pub fn head(status: u16, content_type: &str, length: Option<usize>) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let length = match length {
        Some(n) => format!("Content-Length: {n}"),
        None => "Transfer-Encoding: chunked".to_owned(),
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n{length}\r\n\
         Connection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
         {NO_FRAMING}\r\n"
    )
}

/// The longest a response may take to send, whole: a client that reads slowly (each write
/// within the socket's write timeout) still cannot hold its connection and the body longer.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(30);

/// The most one write hands the socket, so the deadline is looked at between writes.
const WRITE_PIECE: usize = 64 << 10;

/// A writer that fails with `TimedOut` once its deadline has passed.
pub struct Deadline<W> {
    inner: W,
    until: Instant,
}

impl<W: Write> Deadline<W> {
    /// Writes to `inner` for at most `limit` from now.
    pub fn new(inner: W, limit: Duration) -> Self {
        Self {
            inner,
            until: Instant::now() + limit,
        }
    }
}

impl<W: Write> Write for Deadline<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if Instant::now() >= self.until {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client took too long to read the response",
            ));
        }
        self.inner.write(&buf[..buf.len().min(WRITE_PIECE)])
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
pub fn error_json(refusal: &Refusal) -> Vec<u8> {
    let kind = match refusal.status {
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        503 => "server_error",
        _ => "invalid_request_error",
    };
    serde_json::json!({
        "error": {"message": refusal.message, "type": kind, "param": null, "code": null}
    })
    .to_string()
    .into_bytes()
}

/// Standard base64 (RFC 4648, with padding) of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * k) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Request {
        read_head(&mut text.as_bytes()).unwrap()
    }

    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn a_head_parses_with_its_query_and_body_start() {
        let r = head(
            "POST /v1/audio/speech?token=abc HTTP/1.1\r\nHost: 127.0.0.1:7580\r\nContent-Length: 4\r\n\r\nbody",
        );
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/v1/audio/speech")
        );
        assert_eq!(r.query_param("token").as_deref(), Some("abc"));
        assert_eq!(r.rest, b"body");
        assert_eq!(read_body(&mut &b""[..], &r).unwrap(), b"body");
    }

    #[test]
    fn oversize_and_malformed_heads_are_refused() {
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(read_head(&mut big.as_bytes()).unwrap_err().status, 431);
        assert_eq!(
            read_head(&mut &b"\x00\x01 nonsense\r\n\r\n"[..])
                .unwrap_err()
                .status,
            400
        );
        let r = head("POST / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n");
        assert_eq!(read_body(&mut &b""[..], &r).unwrap_err().status, 413);
    }

    #[test]
    fn host_origin_and_token_are_checked() {
        let ok = head("GET / HTTP/1.1\r\nHost: localhost:7580\r\n\r\n");
        assert!(check_access(&ok, 7580, "").is_ok());
        let rebound = head("GET / HTTP/1.1\r\nHost: evil.example:7580\r\n\r\n");
        assert_eq!(check_access(&rebound, 7580, "").unwrap_err().status, 403);
        let cross =
            head("GET / HTTP/1.1\r\nHost: 127.0.0.1:7580\r\nOrigin: https://evil.example\r\n\r\n");
        assert_eq!(check_access(&cross, 7580, "").unwrap_err().status, 403);
        let own =
            head("GET / HTTP/1.1\r\nHost: 127.0.0.1:7580\r\nOrigin: http://127.0.0.1:7580\r\n\r\n");
        assert!(check_access(&own, 7580, "").is_ok());
        assert_eq!(check_access(&ok, 7580, "s3cret").unwrap_err().status, 401);
        let bearer =
            head("GET / HTTP/1.1\r\nHost: 127.0.0.1:7580\r\nAuthorization: Bearer s3cret\r\n\r\n");
        assert!(check_access(&bearer, 7580, "s3cret").is_ok());
        let query = head("GET /?token=s3cret HTTP/1.1\r\nHost: 127.0.0.1:7580\r\n\r\n");
        assert!(check_access(&query, 7580, "s3cret").is_ok());
    }

    #[test]
    fn a_token_with_any_characters_passes_as_the_caption_page_sends_it() {
        // The caption page sends `encodeURIComponent(token)`.
        let token = "a/b+c=d&e%f#g?h i\u{e9}";
        let encoded = "a%2Fb%2Bc%3Dd%26e%25f%23g%3Fh%20i%C3%A9";
        let r = head(&format!(
            "GET /?x=1&token={encoded} HTTP/1.1\r\nHost: 127.0.0.1:7580\r\n\r\n"
        ));
        assert_eq!(r.query_param("token").as_deref(), Some(token));
        assert!(check_access(&r, 7580, token).is_ok());
        let wrong = head("GET /?token=a%2Fb HTTP/1.1\r\nHost: 127.0.0.1:7580\r\n\r\n");
        assert_eq!(check_access(&wrong, 7580, token).unwrap_err().status, 401);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%C3"), None, "not UTF-8");
        assert_eq!(percent_decode("a+b").as_deref(), Some("a b"));
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let r = head(&format!(
                "GET / HTTP/1.1\r\nHost: 127.0.0.1:7580\r\nAuthorization: {scheme} s3cret\r\n\r\n"
            ));
            assert!(check_access(&r, 7580, "s3cret").is_ok(), "{scheme}");
        }
        let basic =
            head("GET / HTTP/1.1\r\nHost: 127.0.0.1:7580\r\nAuthorization: Basic s3cret\r\n\r\n");
        assert_eq!(
            check_access(&basic, 7580, "s3cret").unwrap_err().status,
            401
        );
    }

    #[test]
    fn framed_requests_are_refused_and_every_response_forbids_framing() {
        for dest in ["iframe", "frame", "object", "embed"] {
            let r = head(&format!(
                "GET /captions HTTP/1.1\r\nHost: 127.0.0.1:7580\r\nSec-Fetch-Dest: {dest}\r\n\r\n"
            ));
            assert_eq!(
                check_access(&r, 7580, "").unwrap_err().status,
                403,
                "{dest}"
            );
        }
        let page = head(
            "GET /captions HTTP/1.1\r\nHost: 127.0.0.1:7580\r\nSec-Fetch-Dest: document\r\n\r\n",
        );
        assert!(check_access(&page, 7580, "").is_ok());
        let mut out = Vec::new();
        respond(&mut out, 200, "text/html", b"x").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\r\nContent-Security-Policy: frame-ancestors 'none'\r\n"));
        assert!(text.contains("\r\nX-Frame-Options: DENY\r\n"));
        assert!(text.ends_with("\r\n\r\nx"));
    }

    #[test]
    fn only_json_posts_pass() {
        let form = head("POST / HTTP/1.1\r\nContent-Type: text/plain\r\n\r\n");
        assert_eq!(check_json(&form).unwrap_err().status, 415);
        let json = head("POST / HTTP/1.1\r\nContent-Type: application/json; charset=utf-8\r\n\r\n");
        assert!(check_json(&json).is_ok());
    }

    #[test]
    fn a_slow_reader_is_cut_off_at_the_deadline() {
        /// Takes one byte per write, slowly.
        struct Slow(usize);
        impl Write for Slow {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::thread::sleep(Duration::from_millis(2));
                self.0 += 1;
                Ok(buf.len().min(1))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut slow = Slow(0);
        let started = Instant::now();
        let result = Deadline::new(&mut slow, Duration::from_millis(40)).write_all(&[0u8; 100_000]);
        let err = result.expect_err("the deadline ends the write");
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(slow.0 < 100_000 && started.elapsed() < Duration::from_secs(5));
        let mut fast = Vec::new();
        Deadline::new(&mut fast, Duration::from_secs(5))
            .write_all(&[1u8; 200_000])
            .unwrap();
        assert_eq!(fast.len(), 200_000);
    }
}
