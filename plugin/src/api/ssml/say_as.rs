//! How `<say-as>` content is read, as text the voice's phonemizer reads the intended way
//! (English readings: the default voices are English):
//! - `characters` / `spell-out`: letters spelled (joined by hyphens, which espeak-ng spells
//!   letter by letter), digits one by one;
//! - `cardinal` / `number`: the number (grouping commas, spaces and underscores dropped);
//! - `ordinal`: "3" or "3rd" as "third";
//! - `date` (`format` one of `mdy`, `dmy`, `ymd`, `md`, `dm`, `ym`, `my`, `y`; without one,
//!   `ymd` when the first part has four digits, else `mdy`): "December seventh, twenty
//!   twenty-six";
//! - `telephone`: digits one by one, groups apart, `+` as "plus".
//!
//! Any other `interpret-as` is read as written, as SSML asks.
//!
//! Thread model: pure functions, any thread.

/// Why content could not be read as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SayAsError {
    /// Not a number.
    #[error("say-as {kind} needs a number of at most 15 digits, not {text:?}")]
    Number {
        /// The interpretation.
        kind: &'static str,
        /// The content (its first 40 characters).
        text: String,
    },
    /// Not a date in the format.
    #[error("say-as date {text:?} is not a date in the format {format:?}")]
    Date {
        /// The content (its first 40 characters).
        text: String,
        /// The format.
        format: String,
    },
    /// Not a telephone number.
    #[error("say-as telephone {0:?} has no digits or is longer than 40 characters")]
    Telephone(String),
    /// Nothing to spell.
    #[error("say-as characters has nothing to spell")]
    Characters,
}

fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

/// The reading of `content` as `kind` (`None`: read it as written).
pub fn read(kind: &str, format: Option<&str>, content: &str) -> Result<Option<String>, SayAsError> {
    let content = content.trim();
    Ok(Some(match kind {
        "characters" | "spell-out" => characters(content)?,
        "cardinal" | "number" => cardinal(content)?,
        "ordinal" => ordinal(content)?,
        "date" => date(content, format)?,
        "telephone" => telephone(content)?,
        _ => return Ok(None),
    }))
}

/// Letters spelled, digits one by one, anything else dropped.
pub fn characters(text: &str) -> Result<String, SayAsError> {
    let mut words: Vec<String> = Vec::new();
    let mut letters: Vec<char> = Vec::new();
    let flush = |letters: &mut Vec<char>, words: &mut Vec<String>| {
        match letters.len() {
            0 => {}
            // A letter alone is spelled before a comma ("A," not the article "a").
            1 => words.push(format!("{},", letters[0].to_uppercase())),
            _ => {
                let spelled: Vec<String> = letters
                    .iter()
                    .map(|c| c.to_uppercase().to_string())
                    .collect();
                words.push(spelled.join("-"));
            }
        }
        letters.clear();
    };
    for c in text.chars() {
        if c.is_alphabetic() {
            letters.push(c);
        } else {
            flush(&mut letters, &mut words);
            if c.is_ascii_digit() {
                words.push(c.to_string());
            }
        }
    }
    flush(&mut letters, &mut words);
    if words.is_empty() {
        return Err(SayAsError::Characters);
    }
    Ok(words.join(" "))
}

/// The digits of a number, with its sign and decimal point (grouping dropped).
fn number(kind: &'static str, text: &str) -> Result<(bool, String, Option<String>), SayAsError> {
    let bad = || SayAsError::Number {
        kind,
        text: short(text),
    };
    let (negative, rest) = match text.strip_prefix(['-', '−']) {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let cleaned: String = rest
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | ' ' | '\u{a0}'))
        .collect();
    let (whole, fraction) = match cleaned.split_once('.') {
        Some((w, f)) => (w.to_owned(), Some(f.to_owned())),
        None => (cleaned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if !digits(&whole)
        || whole.len() > 15
        || fraction
            .as_deref()
            .is_some_and(|f| !digits(f) || f.len() > 15)
    {
        return Err(bad());
    }
    Ok((negative, whole, fraction))
}

/// A number read as a number.
pub fn cardinal(text: &str) -> Result<String, SayAsError> {
    let (negative, whole, fraction) = number("cardinal", text)?;
    let mut out = String::new();
    if negative {
        out.push_str("minus ");
    }
    out.push_str(&whole);
    if let Some(f) = fraction {
        out.push('.');
        out.push_str(&f);
    }
    Ok(out)
}

/// English's ordinal suffix of `n`.
fn suffix(n: u64) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// A whole number read as an ordinal ("3" or "3rd": "third").
pub fn ordinal(text: &str) -> Result<String, SayAsError> {
    let bare = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|s| text.strip_suffix(s))
        .unwrap_or(text);
    let (negative, whole, fraction) = number("ordinal", bare)?;
    let value: u64 = whole.parse().map_err(|_| SayAsError::Number {
        kind: "ordinal",
        text: short(text),
    })?;
    if negative || fraction.is_some() {
        return Err(SayAsError::Number {
            kind: "ordinal",
            text: short(text),
        });
    }
    Ok(format!("{value}{}", suffix(value)))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A year as people say it: "twenty twenty-six", "nineteen oh five", "nineteen hundred",
/// "two thousand five".
fn year(y: u32) -> String {
    match y {
        1000..=9999 if !(2000..=2009).contains(&y) => {
            let (high, low) = (y / 100, y % 100);
            match low {
                0 => format!("{high} hundred"),
                1..=9 => format!("{high} oh {low}"),
                _ => format!("{high} {low}"),
            }
        }
        _ => y.to_string(),
    }
}

/// A month by number or by (the start of) its English name.
fn month(text: &str) -> Option<usize> {
    if let Ok(n) = text.parse::<usize>() {
        return (1..=12).contains(&n).then_some(n);
    }
    let lower = text.to_lowercase();
    let lower = lower.trim_end_matches('.');
    if lower.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.to_lowercase().starts_with(lower))
        .map(|i| i + 1)
}

/// A date, read in English.
pub fn date(text: &str, format: Option<&str>) -> Result<String, SayAsError> {
    let parts: Vec<&str> = text
        .split(['-', '/', '.', ' ', ','])
        .filter(|p| !p.is_empty())
        .collect();
    let format = match format {
        Some(f) => f.to_owned(),
        None if parts.first().is_some_and(|p| p.len() == 4) => "ymd".to_owned(),
        None => "mdy".to_owned(),
    };
    let bad = || SayAsError::Date {
        text: short(text),
        format: short(&format),
    };
    if parts.len() != format.len()
        || !matches!(
            format.as_str(),
            "mdy" | "dmy" | "ymd" | "md" | "dm" | "ym" | "my" | "y"
        )
    {
        return Err(bad());
    }
    let (mut d, mut m, mut y) = (None, None, None);
    for (key, part) in format.chars().zip(&parts) {
        match key {
            'd' => {
                d = Some(
                    part.parse::<u32>()
                        .ok()
                        .filter(|d| (1..=31).contains(d))
                        .ok_or_else(bad)?,
                )
            }
            'm' => m = Some(month(part).ok_or_else(bad)?),
            _ => {
                y = Some(
                    part.parse::<u32>()
                        .ok()
                        .filter(|y| part.len() == 4 && *y > 0)
                        .ok_or_else(bad)?,
                );
            }
        }
    }
    let days = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if let (Some(d), Some(m)) = (d, m)
        && d > days[m - 1]
    {
        return Err(bad());
    }
    let day = d.map(|d| format!("{d}{}", suffix(u64::from(d))));
    let month = m.map(|m| MONTHS[m - 1]);
    let year = y.map(year);
    let spoken = match (format.as_str(), day, month, year) {
        ("dmy", Some(d), Some(m), Some(y)) => format!("the {d} of {m}, {y}"),
        ("dm", Some(d), Some(m), None) => format!("the {d} of {m}"),
        (_, Some(d), Some(m), Some(y)) => format!("{m} {d}, {y}"),
        (_, Some(d), Some(m), None) => format!("{m} {d}"),
        (_, None, Some(m), Some(y)) => format!("{m} {y}"),
        (_, None, None, Some(y)) => y,
        _ => return Err(bad()),
    };
    Ok(spoken)
}

/// A telephone number: "+1 (555) 010-0199" as "plus 1, 5 5 5, 0 1 0, 0 1 9 9".
pub fn telephone(text: &str) -> Result<String, SayAsError> {
    if text.chars().count() > 40 || !text.chars().any(|c| c.is_ascii_digit()) {
        return Err(SayAsError::Telephone(short(text)));
    }
    let mut groups: Vec<String> = Vec::new();
    let mut group: Vec<String> = Vec::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            group.push(c.to_string());
        } else {
            if !group.is_empty() {
                groups.push(group.join(" "));
                group.clear();
            }
            if c == '+' {
                group.push("plus".to_owned());
            }
        }
    }
    if !group.is_empty() {
        groups.push(group.join(" "));
    }
    Ok(groups.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_are_what_a_reader_says() {
        assert_eq!(characters("ABc").unwrap(), "A-B-C");
        assert_eq!(characters("a").unwrap(), "A,");
        assert_eq!(characters("R2-D2").unwrap(), "R, 2 D, 2");
        assert_eq!(cardinal("1,234,567").unwrap(), "1234567");
        assert_eq!(cardinal("-3.25").unwrap(), "minus 3.25");
        assert_eq!(ordinal("3").unwrap(), "3rd");
        assert_eq!(ordinal("11th").unwrap(), "11th");
        assert_eq!(ordinal("22").unwrap(), "22nd");
        assert_eq!(ordinal("101").unwrap(), "101st");
        assert_eq!(date("2026-12-07", None).unwrap(), "December 7th, 20 26");
        assert_eq!(date("12/07/1905", None).unwrap(), "December 7th, 19 oh 5");
        assert_eq!(
            date("7.12.2026", Some("dmy")).unwrap(),
            "the 7th of December, 20 26"
        );
        assert_eq!(date("Dec 2005", Some("my")).unwrap(), "December 2005");
        assert_eq!(date("1900", Some("y")).unwrap(), "19 hundred");
        assert_eq!(
            telephone("+1 (555) 010-0199").unwrap(),
            "plus 1, 5 5 5, 0 1 0, 0 1 9 9"
        );
        assert_eq!(read("unknown", None, "x").unwrap(), None);
    }

    #[test]
    fn content_that_is_not_what_it_claims_is_refused() {
        assert!(cardinal("12a").is_err());
        assert!(cardinal("1234567890123456").is_err());
        assert!(ordinal("-3").is_err());
        assert!(ordinal("3.5").is_err());
        assert!(date("2026-02-30", None).is_err());
        assert!(date("2026-13-01", None).is_err());
        assert!(date("12/07", Some("mdy")).is_err());
        assert!(date("12/07/2026", Some("xyz")).is_err());
        assert!(telephone("call me").is_err());
        assert!(characters("!?").is_err());
    }
}
