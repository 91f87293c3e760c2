//! A bare HTTP/1.1 client for the API's endpoints: one request on a plain socket, so a test
//! controls exactly what is sent (and may hang up), with nothing between it and the server.

use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::net::TcpStream;

/// Sends `POST /v1/audio/speech` with `body` as JSON to 127.0.0.1:`port` and returns the
/// open connection, the response unread.
pub fn send_speech(port: u16, body: &serde_json::Value) -> Result<TcpStream> {
    let body = body.to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .with_context(|| format!("could not connect to 127.0.0.1:{port}"))?;
    write!(
        stream,
        "POST /v1/audio/speech HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    Ok(stream)
}

/// The whole response on `stream` (to the server's close; a reset ends it early).
pub fn read_response(stream: &mut TcpStream) -> Vec<u8> {
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    response
}

/// A response's status code.
pub fn status(response: &[u8]) -> Option<u16> {
    let head = String::from_utf8_lossy(&response[..response.len().min(64)]).into_owned();
    head.split_whitespace().nth(1)?.parse().ok()
}
