//! Tokens for the API: a new one drawn from the operating system's random source, written
//! with URL-safe characters only, so it goes into a caption page's `?token=`, a Streamer.bot
//! setting or an `Authorization` header unchanged.
//!
//! Thread model: any thread (the editor's, when the user asks for one).

/// Random bytes in a generated token (192 bits).
const TOKEN_BYTES: usize = 24;

/// The URL-safe base64 alphabet (RFC 4648 §5).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Why no token could be made.
#[derive(Debug, thiserror::Error)]
#[error("the system gave no random numbers for a token: {0}")]
pub struct NoRandom(String);

/// A new random token: 32 characters from `A–Z a–z 0–9 - _`.
pub fn generate() -> Result<String, NoRandom> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| NoRandom(e.to_string()))?;
    Ok(encode(&bytes))
}

/// `bytes` (a multiple of 3 long) in URL-safe base64, without padding.
fn encode(bytes: &[u8]) -> String {
    bytes
        .chunks(3)
        .flat_map(|c| {
            let n = c.iter().fold(0u32, |n, &b| n << 8 | u32::from(b)) << (8 * (3 - c.len()));
            (0..=c.len()).map(move |k| ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_and_differ() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
        assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "-_-_");
        assert_eq!(encode(b"Man"), "TWFu");
    }
}
