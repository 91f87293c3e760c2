//! Speaker.bot's UDP form: one JSON object per datagram, `{"command": "speak", "message": ...}`
//! and `stop`, `pause`, `resume`, `clear`, `enable`/`on`, `disable`/`off`. UDP gets no replies
//! (as in Speaker.bot); refusals are counted and shown in the editor. With a token set, every
//! datagram must carry it as `"token"`.

use super::http::{constant_time_eq, is_timeout};
use super::server::{Hub, RateLimit, TICK, speak};
use super::speakerbot::MAX_TEXT;
use serde_json::Value;
use std::net::UdpSocket;
use std::sync::atomic::Ordering;

/// The largest datagram read.
pub const MAX_DATAGRAM: usize = 8 << 10;

/// What a datagram asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Speak this (the word list applies unless `badWordFilter` is false).
    Speak(String, bool),
    /// Stop the phrase heard.
    Stop,
    /// Hold speech.
    Pause,
    /// Go on.
    Resume,
    /// Drop the queue.
    Clear,
    /// Speech on.
    Enable,
    /// Speech off.
    Disable,
}

/// Parses a datagram, checking the token (empty: none needed).
pub fn parse(datagram: &[u8], token: &str) -> Result<Command, String> {
    let value: Value = serde_json::from_slice(datagram).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err("not a JSON object".into());
    };
    if !token.is_empty() {
        let sent = object
            .get("token")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !constant_time_eq(sent.as_bytes(), token.as_bytes()) {
            return Err("wrong or missing token".into());
        }
    }
    let command = object
        .get("command")
        .and_then(Value::as_str)
        .ok_or("no `command`")?
        .to_ascii_lowercase();
    Ok(match command.as_str() {
        "speak" => {
            let message = object
                .get("message")
                .and_then(Value::as_str)
                .ok_or("speak needs a `message`")?;
            if message.len() > MAX_TEXT {
                return Err(format!("the message is more than {MAX_TEXT} bytes"));
            }
            let words = object
                .get("badWordFilter")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            Command::Speak(message.to_owned(), words)
        }
        "stop" => Command::Stop,
        "pause" => Command::Pause,
        "resume" => Command::Resume,
        "clear" => Command::Clear,
        "enable" | "on" => Command::Enable,
        "disable" | "off" => Command::Disable,
        other => {
            return Err(format!(
                "unknown command `{}`",
                other.chars().take(40).collect::<String>()
            ));
        }
    })
}

/// Reads datagrams until the server stops.
pub(super) fn serve(hub: &Hub, socket: &UdpSocket) {
    let _ = socket.set_read_timeout(Some(TICK));
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut limit = RateLimit::default();
    while !hub.stopping() {
        let (len, peer) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if is_timeout(&e) => continue,
            Err(_) => continue,
        };
        if !peer.ip().is_loopback() {
            continue;
        }
        let status = hub.status();
        status.requests.fetch_add(1, Ordering::Relaxed);
        let refused = |why: &str| {
            status.refused.fetch_add(1, Ordering::Relaxed);
            status.note(&format!("UDP refused: {why}"));
        };
        if len > MAX_DATAGRAM {
            refused("datagram too large");
            continue;
        }
        if !limit.take() {
            refused("too many datagrams");
            continue;
        }
        let command = match parse(&buf[..len], hub.token()) {
            Ok(command) => command,
            Err(why) => {
                refused(&why);
                continue;
            }
        };
        let owner = super::owner();
        let speech = owner.as_deref().and_then(super::Target::speech);
        match command {
            Command::Speak(message, words) => {
                status.note(&format!("UDP speak: {message}"));
                if let Err(why) = speak(hub, owner.as_deref(), &message, words) {
                    refused(&why);
                }
            }
            Command::Enable => hub.set_enabled(true),
            Command::Disable => hub.set_enabled(false),
            other => {
                if let Some(speech) = speech {
                    let control = speech.control();
                    match other {
                        Command::Stop => control.skip(),
                        Command::Pause => control.set_paused(true),
                        Command::Resume => control.set_paused(false),
                        _ => control.clear(),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_parse_and_the_token_is_checked() {
        assert_eq!(
            parse(
                br#"{"command":"speak","id":"1","voice":"x","message":"hi"}"#,
                ""
            ),
            Ok(Command::Speak("hi".into(), true))
        );
        assert_eq!(parse(br#"{"command":"off"}"#, ""), Ok(Command::Disable));
        assert!(parse(br#"{"command":"speak","message":"hi"}"#, "t").is_err());
        assert!(parse(br#"{"command":"speak","message":"hi","token":"t"}"#, "t").is_ok());
        assert!(parse(b"garbage", "").is_err());
        assert!(parse(br#"{"command":"format-disk"}"#, "").is_err());
    }
}
