//! Chat reading rules that are code, not data: stretched words (`sooooo` is "so"), decorated
//! names (`xX_Sn1per_Xx` is "Sniper"), `@mentions`, ratings (`10/10` is "10 out of 10"), very
//! long digit strings, and inline phoneme spans (`[[ ... ]]`), kept only from trusted text.
//!
//! Thread model: pure functions, called by whichever thread filters a message.

use super::lexicon::Lexicon;

/// Digits in a row past which a number is not read out digit by digit.
pub const LONG_NUMBER_DIGITS: usize = 12;

/// What a digit string longer than [`LONG_NUMBER_DIGITS`] is read as.
pub const LONG_NUMBER: &str = "a long number";

/// The longest inline phoneme span kept from trusted text, in characters.
pub const MAX_PHONEME_SPAN: usize = 400;

/// Stretched runs considered at most per word (each may be kept single or double).
const MAX_STRETCHED_RUNS: usize = 4;

/// A stretched word shortened: every run of three or more of one letter becomes one letter,
/// or two where that gives a word the lexicon lists as keeping its double (`goooood` →
/// `good`, `sooooo` → `so`, `yesss` → `yes`). `None` if nothing is stretched.
pub fn shorten_stretched(word: &str, lexicon: &Lexicon) -> Option<String> {
    let chars: Vec<char> = word.chars().collect();
    // Runs of 3 or more of one letter: (start, length).
    let mut runs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let mut j = i + 1;
        while j < chars.len() && chars[j] == chars[i] {
            j += 1;
        }
        if j - i >= 3 && chars[i].is_alphabetic() {
            runs.push((i, j - i));
        }
        i = j;
    }
    if runs.is_empty() {
        return None;
    }
    runs.truncate(MAX_STRETCHED_RUNS);
    let build = |doubled: u32| -> String {
        let mut out = String::with_capacity(word.len());
        let mut at = 0;
        for (k, &(start, len)) in runs.iter().enumerate() {
            out.extend(&chars[at..start]);
            let keep = if doubled & (1 << k) != 0 { 2 } else { 1 };
            out.extend(std::iter::repeat_n(chars[start], keep));
            at = start + len;
        }
        out.extend(&chars[at..]);
        out
    };
    // Fewest doubles first: the plain shortening unless a listed word needs a double.
    let mut masks: Vec<u32> = (1..1u32 << runs.len()).collect();
    masks.sort_by_key(|m| m.count_ones());
    Some(
        masks
            .into_iter()
            .map(build)
            .find(|w| lexicon.keeps_double(w))
            .unwrap_or_else(|| build(0)),
    )
}

/// A decorated user name read as its name: `xX_Sn1per_Xx` → `Sniper`, `__name__` → `name`,
/// `cool_guy_99` → `cool guy 99`, digits standing for letters inside a word (`n00b`, `l33t`)
/// read as the letters. `None` if the word is not decorated.
pub fn undecorate(word: &str) -> Option<String> {
    if !word.contains('_') && !has_letter_digits(word) {
        return None;
    }
    let mut core = word.trim_matches('_');
    // xX_name_Xx, Xx_name_xX and the like.
    for (open, close) in [
        ("xX_", "_Xx"),
        ("Xx_", "_xX"),
        ("xx_", "_xx"),
        ("XX_", "_XX"),
    ] {
        if let Some(inner) = core.strip_prefix(open).and_then(|c| c.strip_suffix(close)) {
            core = inner.trim_matches('_');
        }
    }
    let parts: Vec<String> = core
        .split('_')
        .filter(|p| !p.is_empty())
        .map(leet_to_letters)
        .collect();
    let out = parts.join(" ");
    (out != word && !out.is_empty()).then_some(out)
}

/// Whether a digit stands between letters in `word` (`Sn1per`, `n00b`).
fn has_letter_digits(word: &str) -> bool {
    let chars: Vec<char> = word.chars().collect();
    (1..chars.len().saturating_sub(1)).any(|i| {
        leet(chars[i]).is_some() && {
            let before = chars[..i].iter().rev().find(|c| leet(**c).is_none());
            let after = chars[i + 1..].iter().find(|c| leet(**c).is_none());
            before.is_some_and(|c| c.is_alphabetic()) && after.is_some_and(|c| c.is_alphabetic())
        }
    })
}

/// The letter a digit stands for in chat names.
fn leet(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        _ => return None,
    })
}

/// `part` with the digits that stand between letters read as letters; a part that is all
/// digits (`99`) stays a number.
fn leet_to_letters(part: &str) -> String {
    if !has_letter_digits(part) {
        return part.to_owned();
    }
    let chars: Vec<char> = part.chars().collect();
    let letter_before = |i: usize| chars[..i].iter().any(|c| c.is_alphabetic());
    let letter_after = |i: usize| chars[i + 1..].iter().any(|c| c.is_alphabetic());
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| match leet(c) {
            Some(l) if letter_before(i) && letter_after(i) => l,
            _ => c,
        })
        .collect()
}

/// `@name` → `name`.
pub fn mention(word: &str) -> Option<&str> {
    word.strip_prefix('@')
        .filter(|rest| rest.chars().next().is_some_and(char::is_alphanumeric))
}

/// A rating or chat fraction read as one: `10/10` → `10 out of 10`, `5/7`, `100/100`. Only
/// over 5, 7, 10 and 100 and not above them, so dates (`12/25`) are left alone.
pub fn rating(token: &str) -> Option<String> {
    let (over, under) = token.split_once('/')?;
    let parse = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (over, under) = (parse(over)?, parse(under)?);
    ([5, 7, 10, 100].contains(&under) && over <= under).then(|| format!("{over} out of {under}"))
}

/// Whether `word` holds a run of more than [`LONG_NUMBER_DIGITS`] digits.
pub fn is_long_number(word: &str) -> bool {
    let mut run = 0;
    for c in word.chars() {
        if c.is_ascii_digit() {
            run += 1;
            if run > LONG_NUMBER_DIGITS {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// A piece of a message: plain text or an inline phoneme span with its brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text to filter.
    Text(&'a str),
    /// `[[ ... ]]`, kept as written.
    Phonemes(&'a str),
}

/// Splits `text` at its inline phoneme spans. With `keep`, each well-formed span (closed, at
/// most [`MAX_PHONEME_SPAN`] characters) is a [`Piece::Phonemes`]; otherwise spans, and any
/// unmatched `[[` or `]]`, are taken out (a space in their place), never read as symbols.
pub fn phoneme_pieces(text: &str, keep: bool) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("[[") {
        let before = &rest[..open];
        let after = &rest[open + 2..];
        match after.find("]]") {
            Some(close) => {
                let span = &rest[open..open + 2 + close + 2];
                push_text(&mut pieces, before);
                if keep && span.chars().count() <= MAX_PHONEME_SPAN {
                    pieces.push(Piece::Phonemes(span));
                }
                rest = &after[close + 2..];
            }
            None => {
                // An unclosed span: the brackets and what follows them to the next space go.
                push_text(&mut pieces, before);
                rest = after.trim_start_matches('[');
            }
        }
    }
    for stray in rest.split("]]") {
        push_text(&mut pieces, stray);
    }
    pieces
}

fn push_text<'a>(pieces: &mut Vec<Piece<'a>>, text: &'a str) {
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stretched_words_shorten_to_words() {
        let lexicon = Lexicon::built_in();
        let short = |w| shorten_stretched(w, &lexicon);
        assert_eq!(short("sooooo").as_deref(), Some("so"));
        assert_eq!(short("goooood").as_deref(), Some("good"));
        assert_eq!(short("nooooo").as_deref(), Some("no"));
        assert_eq!(short("yesss").as_deref(), Some("yes"));
        assert_eq!(short("cooool").as_deref(), Some("cool"));
        assert_eq!(short("hello"), None);
        assert_eq!(short("1000"), None);
    }

    #[test]
    fn decorated_names_read_as_names() {
        assert_eq!(undecorate("xX_Sn1per_Xx").as_deref(), Some("Sniper"));
        assert_eq!(undecorate("__name__").as_deref(), Some("name"));
        assert_eq!(undecorate("cool_guy_99").as_deref(), Some("cool guy 99"));
        assert_eq!(undecorate("n00b").as_deref(), Some("noob"));
        assert_eq!(undecorate("l33t").as_deref(), Some("leet"));
        assert_eq!(undecorate("mp3"), None);
        assert_eq!(undecorate("1080p"), None);
        assert_eq!(undecorate("R2D2"), None);
        assert_eq!(undecorate("hello"), None);
    }

    #[test]
    fn ratings_mentions_and_long_numbers() {
        assert_eq!(rating("10/10").as_deref(), Some("10 out of 10"));
        assert_eq!(rating("5/7").as_deref(), Some("5 out of 7"));
        assert_eq!(rating("12/25"), None);
        assert_eq!(rating("11/10"), None);
        assert_eq!(mention("@streamer"), Some("streamer"));
        assert_eq!(mention("@"), None);
        assert!(is_long_number("1234567890123"));
        assert!(!is_long_number("999,999,299"));
    }

    #[test]
    fn phoneme_spans_are_kept_only_when_trusted() {
        let text = "[[ h ə l ˈoʊ ]] world [[ ]] [[";
        assert_eq!(
            phoneme_pieces(text, true),
            [
                Piece::Phonemes("[[ h ə l ˈoʊ ]]"),
                Piece::Text(" world "),
                Piece::Phonemes("[[ ]]"),
                Piece::Text(" "),
            ]
        );
        assert_eq!(
            phoneme_pieces(text, false),
            [Piece::Text(" world "), Piece::Text(" ")]
        );
        assert_eq!(
            phoneme_pieces("a ]] b", false),
            [Piece::Text("a "), Piece::Text(" b")]
        );
    }
}
