//! Speaker.bot's UDP form: one JSON object per datagram, `{"command": "speak", "message": ...}`
//! and `stop`, `pause`, `resume`, `clear`, `enable`/`on`, `disable`/`off`. UDP gets no replies
//! (as in Speaker.bot); refusals are counted apart from the other clients' and shown in the
//! editor. With a token set, every datagram must carry it as `"token"`, and it is checked before
//! anything is charged: datagrams with a wrong token cost a sender with the right one nothing.
//! Each sender (address and port) has its own rate bucket ([`Gate`]).
//!
//! Thread model: one server thread reads the socket; nothing here is shared.

use super::http::{constant_time_eq, is_timeout};
use super::rate::RateLimit;
use super::server::{Hub, TICK};
use super::session::{Asked, speak};
use super::speakerbot::MAX_TEXT;
use serde_json::Value;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// The largest datagram read.
pub const MAX_DATAGRAM: usize = 8 << 10;

/// Senders with a rate bucket of their own at most; a new one past that takes the bucket of
/// the sender heard from least recently.
pub const MAX_SENDERS: usize = 64;

/// The rate buckets, one per sender.
#[derive(Debug, Default)]
pub struct Gate {
    senders: Vec<(SocketAddr, RateLimit, Instant)>,
}

impl Gate {
    /// Takes one datagram's token from `peer`'s bucket; false when that sender is over the rate.
    pub fn admit(&mut self, peer: SocketAddr, now: Instant) -> bool {
        let index = match self.senders.iter().position(|(a, ..)| *a == peer) {
            Some(index) => index,
            None if self.senders.len() < MAX_SENDERS => {
                self.senders.push((peer, RateLimit::default(), now));
                self.senders.len() - 1
            }
            None => {
                let oldest = (0..self.senders.len())
                    .min_by_key(|&i| self.senders[i].2)
                    .unwrap_or(0);
                self.senders[oldest] = (peer, RateLimit::default(), now);
                oldest
            }
        };
        let (_, limit, seen) = &mut self.senders[index];
        *seen = now;
        limit.take()
    }
}

/// What a datagram asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Speak `message` (the word list applies unless `badWordFilter` is false), with the
    /// voice alias asked for or the chatter's.
    Speak {
        /// The text.
        message: String,
        /// Whether the word list applies.
        words: bool,
        /// The voice alias asked for.
        voice: Option<String>,
        /// The chatter it is from.
        user: Option<String>,
    },
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

/// Why a datagram was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadDatagram {
    /// Not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON but not an object.
    #[error("not a JSON object")]
    NotObject,
    /// The token is missing or wrong.
    #[error("wrong or missing token")]
    Token,
    /// No `command`.
    #[error("no `command`")]
    NoCommand,
    /// `speak` without a `message`.
    #[error("speak needs a `message`")]
    NoMessage,
    /// A message over [`MAX_TEXT`].
    #[error("the message is more than {MAX_TEXT} bytes")]
    TooLong,
    /// A command not known.
    #[error("unknown command `{0}`")]
    Unknown(String),
}

/// Parses a datagram, checking the token (empty: none needed).
pub fn parse(datagram: &[u8], token: &str) -> Result<Command, BadDatagram> {
    let value: Value =
        serde_json::from_slice(datagram).map_err(|e| BadDatagram::NotJson(e.to_string()))?;
    let Value::Object(object) = value else {
        return Err(BadDatagram::NotObject);
    };
    if !token.is_empty() {
        let sent = object
            .get("token")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !constant_time_eq(sent.as_bytes(), token.as_bytes()) {
            return Err(BadDatagram::Token);
        }
    }
    let command = object
        .get("command")
        .and_then(Value::as_str)
        .ok_or(BadDatagram::NoCommand)?
        .to_ascii_lowercase();
    Ok(match command.as_str() {
        "speak" => {
            let message = object
                .get("message")
                .and_then(Value::as_str)
                .ok_or(BadDatagram::NoMessage)?;
            if message.len() > MAX_TEXT {
                return Err(BadDatagram::TooLong);
            }
            let words = object
                .get("badWordFilter")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            Command::Speak {
                message: message.to_owned(),
                words,
                voice: object
                    .get("voice")
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
                    .map(|v| v.chars().take(super::aliases::MAX_NAME * 2).collect()),
                user: super::speakerbot::chatter(&object),
            }
        }
        "stop" => Command::Stop,
        "pause" => Command::Pause,
        "resume" => Command::Resume,
        "clear" => Command::Clear,
        "enable" | "on" => Command::Enable,
        "disable" | "off" => Command::Disable,
        other => return Err(BadDatagram::Unknown(other.chars().take(40).collect())),
    })
}

/// Reads datagrams until the server stops.
pub(super) fn serve(hub: &Hub, socket: &UdpSocket) {
    let _ = socket.set_read_timeout(Some(TICK));
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut gate = Gate::default();
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
            status.udp_refused.fetch_add(1, Ordering::Relaxed);
            status.note(&format!("UDP refused: {why}"));
        };
        if len > MAX_DATAGRAM {
            refused("datagram too large");
            continue;
        }
        // The token first: a datagram without it is refused before it is charged to anyone.
        let command = match parse(&buf[..len], hub.token()) {
            Ok(command) => command,
            Err(why) => {
                refused(&why.to_string());
                continue;
            }
        };
        if !gate.admit(peer, Instant::now()) {
            refused("too many datagrams from this sender");
            continue;
        }
        let owner = super::owner();
        let speech = owner.as_deref().and_then(super::Target::speech);
        match command {
            Command::Speak {
                message,
                words,
                voice,
                user,
            } => {
                status.note(&format!("UDP speak: {message}"));
                let asked = Asked {
                    message: &message,
                    use_words: words,
                    voice: voice.as_deref(),
                    chatter: user.as_deref(),
                };
                if let Err(why) = speak(hub, owner.as_deref(), &asked) {
                    refused(&why.to_string());
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
    use crate::api::rate::RATE_BURST;

    #[test]
    fn each_sender_has_its_own_bucket() {
        let now = Instant::now();
        let flooder: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let bot: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        let mut gate = Gate::default();
        let admitted = (0..200).filter(|_| gate.admit(flooder, now)).count();
        assert_eq!(
            admitted, RATE_BURST as usize,
            "the flooder gets its burst, no more"
        );
        assert!(gate.admit(bot, now), "another sender is not charged for it");
        // Many senders: the table stays bounded and a new one still gets its burst.
        for port in 0..(2 * MAX_SENDERS as u16) {
            gate.admit(SocketAddr::from(([127, 0, 0, 1], 50000 + port)), now);
        }
        assert_eq!(gate.senders.len(), MAX_SENDERS);
        assert!(gate.admit(flooder, now), "an evicted sender starts afresh");
    }

    #[test]
    fn datagrams_parse_and_the_token_is_checked() {
        assert_eq!(
            parse(
                br#"{"command":"speak","id":"1","voice":"x","message":"hi"}"#,
                ""
            ),
            Ok(Command::Speak {
                message: "hi".into(),
                words: true,
                voice: Some("x".into()),
                user: None,
            })
        );
        assert_eq!(parse(br#"{"command":"off"}"#, ""), Ok(Command::Disable));
        assert!(parse(br#"{"command":"speak","message":"hi"}"#, "t").is_err());
        assert!(parse(br#"{"command":"speak","message":"hi","token":"t"}"#, "t").is_ok());
        assert!(parse(b"garbage", "").is_err());
        assert!(parse(br#"{"command":"format-disk"}"#, "").is_err());
    }
}
