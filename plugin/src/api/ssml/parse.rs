//! An SSML document into [`Ssml`]: the XML is read by `roxmltree` (no DTD, so no entity
//! expansion), then walked once, element by element, with each element's [`Style`] passed
//! down. Text goes into the current segment (a new one where the style changes); a `<break>`
//! ends the segment and sets the pause before the next.
//!
//! Thread model: pure functions, any thread.

use super::say_as;
use super::{
    MAX_BREAK_MS, MAX_DEPTH, MAX_ELEMENTS, MAX_PHONEMES, Piece, Segment, Ssml, SsmlError, Style,
};
use crate::playback::voicing::{LEVEL_DB, Voicing};
use roxmltree::{Document, Node, ParsingOptions};

/// Finds the voice a `<voice name>` asks for: a voice alias's voicing, or an installed voice.
pub type VoiceFinder<'a> = &'a dyn Fn(&str) -> Option<Voicing>;

/// Parses `input` as SSML; `voice` resolves `<voice name>`.
pub fn parse(input: &str, voice: VoiceFinder<'_>) -> Result<Ssml, SsmlError> {
    let options = ParsingOptions {
        allow_dtd: false,
        // Elements, their text and attributes-free nodes: far above any accepted document.
        nodes_limit: (MAX_ELEMENTS * 4) as u32,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(input, options).map_err(|e| {
        let at = e.pos();
        SsmlError::Xml(format!("line {}, column {}: {e}", at.row, at.col))
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "speak" {
        return Err(SsmlError::Root(short(root.tag_name().name())));
    }
    let mut walk = Walk {
        doc: &doc,
        voice,
        out: Builder::default(),
        elements: 0,
    };
    walk.children(root, &Style::default(), 1)?;
    walk.out.finish()
}

/// At most 40 characters of a name, for messages.
fn short(name: &str) -> String {
    name.chars().take(40).collect()
}

struct Walk<'d, 'i, 'v> {
    doc: &'d Document<'i>,
    voice: VoiceFinder<'v>,
    out: Builder,
    elements: usize,
}

impl Walk<'_, '_, '_> {
    /// Where `node` starts, for messages.
    fn at(&self, node: Node<'_, '_>) -> (u32, u32) {
        let pos = self.doc.text_pos_at(node.range().start);
        (pos.row, pos.col)
    }

    fn value(&self, node: Node<'_, '_>, what: String) -> SsmlError {
        let (line, column) = self.at(node);
        SsmlError::Value { what, line, column }
    }

    fn children(
        &mut self,
        node: Node<'_, '_>,
        style: &Style,
        depth: usize,
    ) -> Result<(), SsmlError> {
        for child in node.children() {
            if child.is_text() {
                self.out.plain(style, child.text().unwrap_or(""));
            } else if child.is_element() {
                self.element(child, style, depth + 1)?;
            }
        }
        Ok(())
    }

    fn element(
        &mut self,
        node: Node<'_, '_>,
        style: &Style,
        depth: usize,
    ) -> Result<(), SsmlError> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(SsmlError::Elements);
        }
        if depth > MAX_DEPTH {
            let (line, column) = self.at(node);
            return Err(SsmlError::Depth { line, column });
        }
        match node.tag_name().name() {
            "p" | "s" => {
                self.children(node, style, depth)?;
                self.out.end_sentence();
            }
            "break" => {
                let ms = self.break_ms(node)?;
                self.out.pause(ms);
            }
            "prosody" => {
                let style = self.prosody(node, style)?;
                self.children(node, &style, depth)?;
            }
            "emphasis" => {
                let level = node.attribute("level").unwrap_or("moderate");
                let Some(style) = style.emphasised(level) else {
                    return Err(self.value(
                        node,
                        format!(
                            "emphasis level {:?} is not one of strong, moderate, reduced, none",
                            short(level)
                        ),
                    ));
                };
                self.children(node, &style, depth)?;
            }
            "voice" => {
                let Some(name) = node.attribute("name") else {
                    return Err(self.value(
                        node,
                        "<voice> needs a name (a voice alias or an installed voice)".into(),
                    ));
                };
                let Some(voicing) = (self.voice)(name) else {
                    return Err(self.value(
                        node,
                        format!(
                            "no voice alias or installed voice is named {:?}",
                            short(name)
                        ),
                    ));
                };
                let style = Style {
                    voice: Some(voicing),
                    ..style.clone()
                };
                self.children(node, &style, depth)?;
            }
            "sub" => {
                let Some(alias) = node.attribute("alias") else {
                    return Err(self.value(node, "<sub> needs an alias".into()));
                };
                self.out.replaced(style, &content(node), alias.to_owned());
            }
            "say-as" => {
                let shown = content(node);
                let kind = node.attribute("interpret-as").unwrap_or("");
                let reading = say_as::read(kind, node.attribute("format"), &shown)
                    .map_err(|why| self.value(node, why.to_string()))?;
                match reading {
                    Some(spoken) => self.out.replaced(style, &shown, spoken),
                    None => self.out.plain(style, &shown),
                }
            }
            "phoneme" => {
                let spoken = self.phonemes(node)?;
                self.out.replaced(style, &content(node), spoken);
            }
            "mark" => {}
            other => {
                let (line, column) = self.at(node);
                return Err(SsmlError::Element {
                    name: short(other),
                    line,
                    column,
                });
            }
        }
        Ok(())
    }

    /// A `<break>`'s pause: its `time` (`ms` or `s`), else its `strength`.
    fn break_ms(&self, node: Node<'_, '_>) -> Result<u32, SsmlError> {
        if let Some(time) = node.attribute("time") {
            let time = time.trim();
            let (number, scale) = match time.strip_suffix("ms") {
                Some(n) => (n, 1.0),
                None => match time.strip_suffix('s') {
                    Some(n) => (n, 1000.0),
                    None => (time, f64::NAN),
                },
            };
            let ms = number.trim().parse::<f64>().map(|n| n * scale);
            return match ms {
                Ok(ms) if ms.is_finite() && (0.0..=f64::from(MAX_BREAK_MS)).contains(&ms) => {
                    Ok(ms.round() as u32)
                }
                _ => Err(self.value(node, format!("break time {:?} is not a time from 0 to {MAX_BREAK_MS}ms (as 250ms or 1.5s)", short(time)))),
            };
        }
        match node.attribute("strength").unwrap_or("medium") {
            "none" => Ok(0),
            "x-weak" => Ok(100),
            "weak" => Ok(200),
            "medium" => Ok(400),
            "strong" => Ok(700),
            "x-strong" => Ok(1000),
            other => Err(self.value(node, format!("break strength {:?} is not one of none, x-weak, weak, medium, strong, x-strong", short(other)))),
        }
    }

    /// A `<prosody>`'s style: its `rate` and `volume` on top of `style`'s.
    fn prosody(&self, node: Node<'_, '_>, style: &Style) -> Result<Style, SsmlError> {
        let mut style = style.clone();
        if let Some(rate) = node.attribute("rate") {
            let factor = match rate.trim() {
                "x-slow" => Some(0.5),
                "slow" => Some(0.75),
                "medium" | "default" => Some(1.0),
                "fast" => Some(1.25),
                "x-fast" => Some(1.5),
                other => relative(other, |n| n / 100.0 + 1.0, |n| n / 100.0),
            };
            match factor {
                Some(f) if f.is_finite() && (0.25..=4.0).contains(&f) => style.rate *= f as f32,
                _ => return Err(self.value(node, format!("prosody rate {:?} is not x-slow, slow, medium, fast, x-fast or a pace from 25% to 400%", short(rate)))),
            }
        }
        if let Some(volume) = node.attribute("volume") {
            let db = match volume.trim() {
                "silent" => Some(f64::from(*LEVEL_DB.start())),
                "x-soft" => Some(-12.0),
                "soft" => Some(-6.0),
                "medium" | "default" => Some(0.0),
                "loud" => Some(6.0),
                "x-loud" => Some(12.0),
                other => other
                    .strip_suffix("dB")
                    .and_then(|n| n.trim().parse::<f64>().ok()),
            };
            match db {
                Some(db) if db.is_finite() && db.abs() <= 48.0 => {
                    style.level_db = (style.level_db + db as f32)
                        .clamp(*LEVEL_DB.start(), *LEVEL_DB.end());
                }
                _ => return Err(self.value(node, format!("prosody volume {:?} is not silent, x-soft, soft, medium, loud, x-loud or a change in dB (+6dB)", short(volume)))),
            }
        }
        Ok(style)
    }

    /// A `<phoneme>`'s phonemes as Piper's inline syntax.
    fn phonemes(&self, node: Node<'_, '_>) -> Result<String, SsmlError> {
        let alphabet = node.attribute("alphabet").unwrap_or("ipa");
        if alphabet != "ipa" {
            return Err(self.value(
                node,
                format!(
                    "phoneme alphabet {:?} is not supported: use ipa",
                    short(alphabet)
                ),
            ));
        }
        let Some(ph) = node.attribute("ph") else {
            return Err(self.value(node, "<phoneme> needs ph".into()));
        };
        let ph = ph.trim();
        let fine = !ph.is_empty()
            && ph.chars().count() <= MAX_PHONEMES
            && !ph.chars().any(|c| c == '[' || c == ']' || c.is_control());
        if !fine {
            return Err(self.value(
                node,
                format!("phoneme ph must be 1 to {MAX_PHONEMES} IPA characters without brackets"),
            ));
        }
        Ok(format!("[[ {ph} ]]"))
    }
}

/// A relative value: `+20%` / `-20%` (`signed`), `150%` (`percent`) or a plain factor.
fn relative(text: &str, signed: impl Fn(f64) -> f64, percent: impl Fn(f64) -> f64) -> Option<f64> {
    if let Some(n) = text.strip_suffix('%') {
        let value = n.trim().parse::<f64>().ok()?;
        return Some(if n.starts_with(['+', '-']) {
            signed(value)
        } else {
            percent(value)
        });
    }
    text.parse::<f64>().ok()
}

/// An element's text, all of it (the children of a `<sub>` or `<say-as>` are its content).
fn content(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(Node::is_text)
        .filter_map(|n| n.text())
        .collect()
}

/// Collects the segments and the shown text.
#[derive(Default)]
struct Builder {
    segments: Vec<Segment>,
    shown: String,
    /// A pause asked for since the last text (summed over consecutive breaks).
    pause: Option<u32>,
    /// Whitespace was seen since the last character.
    space: bool,
    /// The next text starts a segment of its own (a break came).
    cut: bool,
}

impl Builder {
    /// The segment `style` speaks into, a new one where the style changed or a break came.
    fn segment(&mut self, style: &Style) -> &mut Segment {
        let open = !self.cut && self.segments.last().is_some_and(|s| s.style == *style);
        if !open {
            self.segments.push(Segment {
                text: String::new(),
                pieces: Vec::new(),
                style: style.clone(),
                pause_before_ms: self.pause.take(),
            });
            self.cut = false;
        }
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }

    /// The space a word after whitespace needs, in the shown and the spoken text.
    fn spaces(&mut self, style: &Style) {
        let space = std::mem::take(&mut self.space);
        if space && !self.shown.is_empty() && !self.shown.ends_with(' ') {
            self.shown.push(' ');
        }
        let segment = self.segment(style);
        if space && !segment.text.is_empty() && !segment.text.ends_with(' ') {
            segment.text.push(' ');
        }
    }

    /// Plain text: said as shown (whitespace collapsed; brackets become parentheses so only
    /// `<phoneme>` gives raw phonemes).
    fn plain(&mut self, style: &Style, text: &str) {
        for c in text.chars() {
            if c.is_whitespace() {
                self.space = true;
                continue;
            }
            self.spaces(style);
            let shown = self.shown.len();
            self.shown.push(c);
            let spoken_c = match c {
                '[' => '(',
                ']' => ')',
                c => c,
            };
            let segment = self.segment(style);
            let spoken = segment.text.len();
            segment.text.push(spoken_c);
            let (end_spoken, end_shown) = (segment.text.len(), shown + c.len_utf8());
            match segment.pieces.last_mut() {
                Some(p) if p.same && p.spoken.end == spoken && p.shown.end == shown => {
                    p.spoken.end = end_spoken;
                    p.shown.end = end_shown;
                }
                _ => segment.pieces.push(Piece {
                    spoken: spoken..end_spoken,
                    shown: shown..end_shown,
                    same: true,
                }),
            }
        }
    }

    /// Text shown as `shown` and said as `spoken`.
    fn replaced(&mut self, style: &Style, shown: &str, spoken: String) {
        let shown: Vec<&str> = shown.split_whitespace().collect();
        let shown = shown.join(" ");
        if spoken.trim().is_empty() {
            return;
        }
        self.spaces(style);
        let shown_from = self.shown.len();
        self.shown.push_str(&shown);
        let shown_to = self.shown.len();
        let segment = self.segment(style);
        let from = segment.text.len();
        segment.text.push_str(spoken.trim());
        let to = segment.text.len();
        segment.pieces.push(Piece {
            spoken: from..to,
            shown: shown_from..shown_to,
            same: false,
        });
    }

    /// The end of a `<p>` or `<s>`: a sentence ends there.
    fn end_sentence(&mut self) {
        if let Some(segment) = self.segments.last_mut().filter(|_| !self.cut) {
            let ends = segment.text.trim_end().ends_with(['.', '!', '?', '…']);
            if !ends && !segment.text.is_empty() {
                segment.text.push('.');
            }
        }
        self.space = true;
    }

    /// A `<break>`.
    fn pause(&mut self, ms: u32) {
        self.pause = Some(self.pause.unwrap_or(0).saturating_add(ms));
        self.cut = true;
        self.space = true;
    }

    fn finish(mut self) -> Result<Ssml, SsmlError> {
        self.segments.retain(|s| !s.text.trim().is_empty());
        if self.segments.is_empty() {
            return Err(SsmlError::Empty);
        }
        Ok(Ssml {
            segments: self.segments,
            pause_after_ms: self.pause,
            shown: self.shown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_voices(_: &str) -> Option<Voicing> {
        None
    }

    fn doc(input: &str) -> Result<Ssml, SsmlError> {
        parse(input, &no_voices)
    }

    #[test]
    fn breaks_cut_segments_and_text_is_shown_as_written() {
        let ssml = doc(
            "<speak>\n  One,   two. <break time=\"1.5s\"/><break strength=\"weak\"/>\n  \
             Three <prosody rate=\"50%\">four</prosody> [[x]]<break/></speak>",
        )
        .unwrap();
        assert_eq!(ssml.shown, "One, two. Three four [[x]]");
        let texts: Vec<_> = ssml
            .segments
            .iter()
            .map(|s| (s.text.as_str(), s.pause_before_ms, s.style.rate))
            .collect();
        assert_eq!(
            texts,
            [
                ("One, two.", None, 1.0),
                ("Three", Some(1700), 1.0),
                ("four", None, 0.5),
                ("((x))", None, 1.0)
            ]
        );
        assert_eq!(ssml.pause_after_ms, Some(400));
        assert_eq!(ssml.pauses_ms(), 2100);
        assert_eq!(ssml.slowest_rate(), 0.5);
    }

    #[test]
    fn replacements_map_their_spoken_words_to_the_shown_text() {
        let ssml = doc("<speak>Call <sub alias=\"World Wide Web\">WWW</sub> at \
             <say-as interpret-as=\"telephone\">555-0100</say-as> \
             <phoneme alphabet=\"ipa\" ph=\"ɔːɹˈeɪtɚ\">Orator</phoneme></speak>")
        .unwrap();
        assert_eq!(ssml.shown, "Call WWW at 555-0100 Orator");
        let segment = &ssml.segments[0];
        assert_eq!(
            segment.text,
            "Call World Wide Web at 5 5 5, 0 1 0 0 [[ ɔːɹˈeɪtɚ ]]"
        );
        let replaced: Vec<_> = segment
            .pieces
            .iter()
            .filter(|p| !p.same)
            .map(|p| {
                (
                    &segment.text[p.spoken.clone()],
                    &ssml.shown[p.shown.clone()],
                )
            })
            .collect();
        assert_eq!(
            replaced,
            [
                ("World Wide Web", "WWW"),
                ("5 5 5, 0 1 0 0", "555-0100"),
                ("[[ ɔːɹˈeɪtɚ ]]", "Orator")
            ]
        );
        for p in segment.pieces.iter().filter(|p| p.same) {
            assert_eq!(
                &segment.text[p.spoken.clone()],
                &ssml.shown[p.shown.clone()]
            );
        }
    }

    #[test]
    fn voices_emphasis_and_sentences_style_their_segments() {
        let finder = |name: &str| {
            (name == "narrator").then(|| Voicing {
                rate: 1.5,
                ..Voicing::default()
            })
        };
        let ssml = parse(
            "<speak><s>Hello</s><voice name=\"narrator\">Once</voice> \
             <emphasis level=\"strong\">now</emphasis></speak>",
            &finder,
        )
        .unwrap();
        let seen: Vec<_> = ssml
            .segments
            .iter()
            .map(|s| {
                (
                    s.text.as_str(),
                    s.style.voice.as_ref().map(|v| v.rate),
                    s.style.rate,
                    s.style.level_db,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("Hello.", None, 1.0, 0.0),
                ("Once", Some(1.5), 1.0, 0.0),
                ("now", None, 0.85, 3.0)
            ]
        );
        let unknown = parse("<speak><voice name=\"nobody\">x</voice></speak>", &finder);
        assert!(
            matches!(
                unknown,
                Err(SsmlError::Value {
                    line: 1,
                    column: 8,
                    ..
                })
            ),
            "{unknown:?}"
        );
    }

    #[test]
    fn bad_documents_are_refused_with_where() {
        let refused = |input: &str| doc(input).unwrap_err().to_string();
        assert!(
            refused("<speak>a <audio src=\"x\"/></speak>")
                .starts_with("line 1, column 10: <audio>")
        );
        assert!(
            refused("<speak>\n<break time=\"-1s\"/>a</speak>").starts_with("line 2, column 1:")
        );
        assert!(refused("<speak>a <b></speak>").starts_with("the SSML is not well-formed: line 1"));
        assert!(refused("<p>a</p>").contains("root element must be <speak>"));
        assert!(
            refused("<speak><prosody rate=\"9000%\">a</prosody></speak>").contains("prosody rate")
        );
        assert!(
            refused("<speak><phoneme alphabet=\"x-sampa\" ph=\"a\">a</phoneme></speak>")
                .contains("use ipa")
        );
        assert!(
            refused("<speak><phoneme ph=\"a]] b\">a</phoneme></speak>")
                .contains("without brackets")
        );
        assert!(
            refused("<speak><say-as interpret-as=\"date\">2026-02-30</say-as></speak>")
                .contains("line 1, column 8: say-as date")
        );
        assert_eq!(doc("<speak> <break/> </speak>"), Err(SsmlError::Empty));
    }

    #[test]
    fn nesting_size_and_entities_are_bounded() {
        let deep = format!(
            "<speak>{}a{}</speak>",
            "<s>".repeat(MAX_DEPTH),
            "</s>".repeat(MAX_DEPTH)
        );
        assert!(matches!(doc(&deep), Err(SsmlError::Depth { .. })));
        let many = format!(
            "<speak>{}</speak>",
            "<mark name=\"m\"/>a ".repeat(MAX_ELEMENTS + 1)
        );
        assert!(doc(&many).is_err());
        // A DTD (entity expansion) is not read at all.
        let laughs = "<!DOCTYPE speak [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>\
                      <speak>&b;&b;</speak>";
        assert!(matches!(doc(laughs), Err(SsmlError::Xml(_))));
        assert_eq!(
            doc("<speak>fish &amp; chips</speak>").unwrap().shown,
            "fish & chips"
        );
    }

    #[test]
    fn ssml_is_told_by_its_start() {
        assert!(super::super::looks_like_ssml("  <speak>x</speak>"));
        assert!(super::super::looks_like_ssml(
            "<?xml version=\"1.0\"?>\n<speak>x</speak>"
        ));
        assert!(!super::super::looks_like_ssml("speak <speak>"));
    }
}
