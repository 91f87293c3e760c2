//! Text to phonemes with espeak-ng, producing exactly what piper-tts 1.8.0's phonemizer produces
//! (Piper voices are trained on that output, so any difference is audible).
//!
//! Piper uses a function that exists only in its espeak-ng fork,
//! `espeak_TextToPhonemesWithTerminator`: like `espeak_TextToPhonemes`, one clause per call, but
//! it also reports how the clause ended (full stop, comma, question…), which Piper turns back into
//! punctuation symbols the voice was trained to pause and inflect on. The espeak-ng vendored by
//! `espeak-rs-sys` keeps the fork's `TranslateClauseWithTerminator`, so [`Espeak::clauses`]
//! re-creates the fork's function from the same internal calls.
//!
//! espeak-ng keeps global state and is not thread-safe: every call goes through one process-wide
//! mutex. It is initialised with `espeakINITIALIZE_DONT_EXIT`, because without it missing data
//! makes espeak-ng call `exit()` — inside the user's DAW.

use espeak_rs_sys as sys;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use unicode_normalization::UnicodeNormalization;

/// Why phonemisation failed.
#[derive(Debug, thiserror::Error)]
pub enum PhonemizeError {
    /// The data folder's path is longer than espeak-ng can hold.
    #[error(
        "the espeak-ng data folder's path {} is {len} bytes long; espeak-ng takes at most \
         {MAX_DATA_PATH}: move Orator's resources to a shorter path (or set ORATOR_RESOURCES \
         to one)", path.display()
    )]
    PathTooLong {
        /// The data folder.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
    },
    /// The data folder is missing or unusable.
    #[error(
        "espeak-ng could not start with the data in {path}: check that the folder exists and \
         holds phontab, phondata, phonindex, intonations and en_dict (set ORATOR_RESOURCES to \
         Orator's resources folder if it moved)"
    )]
    Init {
        /// The data folder tried.
        path: PathBuf,
    },
    /// espeak-ng has no such voice.
    #[error(
        "espeak-ng has no voice {0:?}; the voice's .onnx.json names an espeak voice this build lacks"
    )]
    UnknownVoice(String),
    /// The voice names an MBROLA voice, which would run another program inside the host.
    #[error(
        "the voice asks for the MBROLA voice {0:?}, which Orator does not use: its .onnx.json \
         must name an espeak-ng language such as \"en-us\""
    )]
    Mbrola(String),
    /// The voice's language has no dictionary in the data folder: espeak-ng would load it and
    /// read every word as nothing.
    #[error(
        "espeak-ng's dictionary for the voice {voice:?} is missing: {path} does not exist \
         (reinstall Orator's resources, or pick a voice in another language)"
    )]
    NoDictionary {
        /// The espeak voice asked for.
        voice: String,
        /// The dictionary file it needs.
        path: PathBuf,
    },
    /// No voice is selected (the last switch failed): phonemes cannot be made.
    #[error("espeak-ng has no voice selected (the last voice switch failed)")]
    NoVoice,
    /// The text cannot be handed to C (it contains a NUL character).
    #[error("the text contains a NUL character")]
    Nul,
}

/// The longest data folder path espeak-ng holds (its `path_home` is 160 bytes with the NUL,
/// and every data file's name is built in a buffer 20 bytes longer, which a dictionary file
/// name such as `/cmn_dict` must fit).
pub const MAX_DATA_PATH: usize = 159;

/// Checks that espeak-ng can hold `data_dir`'s path: a longer one would be cut short, and
/// espeak-ng would then read its data from somewhere else.
pub fn check_data_dir(data_dir: &Path) -> Result<(), PhonemizeError> {
    let len = data_dir.as_os_str().as_encoded_bytes().len();
    if len > MAX_DATA_PATH {
        return Err(PhonemizeError::PathTooLong {
            path: data_dir.to_path_buf(),
            len,
        });
    }
    Ok(())
}

/// The longest espeak-ng voice name taken (espeak-ng's own names are under 40 bytes).
const MAX_VOICE_NAME: usize = 64;

/// Checks an espeak-ng voice name before espeak-ng sees it: a language or voice file name
/// (letters, digits, `-`, `_`, `+`, `/`), never an MBROLA voice (`mb/...`, `mb-...`), which
/// espeak-ng would run through the external `mbrola` program.
pub fn check_voice_name(voice: &str) -> Result<(), PhonemizeError> {
    let lower = voice.to_ascii_lowercase();
    if lower.starts_with("mb/") || lower.starts_with("mb-") || lower.contains("/mb-") {
        return Err(PhonemizeError::Mbrola(voice.to_owned()));
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/');
    if voice.is_empty()
        || voice.len() > MAX_VOICE_NAME
        || !voice.chars().all(plain)
        || voice.starts_with('/')
        || voice.split('/').any(|part| part.is_empty() || part == "..")
    {
        return Err(PhonemizeError::UnknownVoice(
            voice.chars().take(MAX_VOICE_NAME).collect(),
        ));
    }
    Ok(())
}

/// How a clause ended, as Piper encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminator {
    /// The punctuation Piper appends (`.`, `?`, `!`, `,`, `:`, `;`), or none.
    pub punctuation: Option<char>,
    /// Whether the clause ends a sentence.
    pub end_of_sentence: bool,
}

// Clause flags from espeak-ng's translate.h (the values are part of its data format).
const CLAUSE_INTONATION_FULL_STOP: c_int = 0x0000_0000;
const CLAUSE_INTONATION_COMMA: c_int = 0x0000_1000;
const CLAUSE_INTONATION_QUESTION: c_int = 0x0000_2000;
const CLAUSE_INTONATION_EXCLAMATION: c_int = 0x0000_3000;
const CLAUSE_TYPE_CLAUSE: c_int = 0x0004_0000;
const CLAUSE_TYPE_SENTENCE: c_int = 0x0008_0000;
const CLAUSE_PERIOD: c_int = 40 | CLAUSE_INTONATION_FULL_STOP | CLAUSE_TYPE_SENTENCE;
const CLAUSE_COMMA: c_int = 20 | CLAUSE_INTONATION_COMMA | CLAUSE_TYPE_CLAUSE;
const CLAUSE_QUESTION: c_int = 40 | CLAUSE_INTONATION_QUESTION | CLAUSE_TYPE_SENTENCE;
const CLAUSE_EXCLAMATION: c_int = 45 | CLAUSE_INTONATION_EXCLAMATION | CLAUSE_TYPE_SENTENCE;
const CLAUSE_COLON: c_int = 30 | CLAUSE_INTONATION_FULL_STOP | CLAUSE_TYPE_CLAUSE;
const CLAUSE_SEMICOLON: c_int = 30 | CLAUSE_INTONATION_COMMA | CLAUSE_TYPE_CLAUSE;

impl Terminator {
    /// Decodes espeak-ng's clause flags the way Piper does.
    fn from_flags(flags: c_int) -> Self {
        let punctuation = match flags & 0x000F_FFFF {
            CLAUSE_PERIOD => Some('.'),
            CLAUSE_QUESTION => Some('?'),
            CLAUSE_EXCLAMATION => Some('!'),
            CLAUSE_COMMA => Some(','),
            CLAUSE_COLON => Some(':'),
            CLAUSE_SEMICOLON => Some(';'),
            _ => None,
        };
        Self {
            punctuation,
            end_of_sentence: flags & CLAUSE_TYPE_SENTENCE == CLAUSE_TYPE_SENTENCE,
        }
    }
}

// espeak-ng internals (non-static C symbols in the statically linked library) that the fork's
// `espeak_TextToPhonemesWithTerminator` is made of.
unsafe extern "C" {
    /// The text decoder the clause reader reads from (readclause.c).
    static mut p_decoder: *mut sys::espeak_ng_TEXT_DECODER;
    /// The current voice's translator (translate.c); opaque here.
    static mut translator: *mut c_void;
    /// The name of the dictionary the last voice load asked for (dictionary.c), set even when
    /// the file could not be read.
    static dictionary_name: [c_char; 40];
    fn TranslateClauseWithTerminator(
        tr: *mut c_void,
        tone_out: *mut c_int,
        voice_change: *mut *mut c_char,
        terminator_out: *mut c_int,
    );
    fn GetTranslatedPhonemeString(phoneme_mode: c_int) -> *const c_char;
}

/// The initialised espeak-ng. Owned by [`ESPEAK`]; reach it through [`Espeak::lock`].
#[derive(Debug)]
pub struct Espeak {
    /// Data folder espeak-ng was initialised with.
    data_dir: PathBuf,
    /// Voice currently selected, to skip redundant (slow) voice loads.
    voice: Option<String>,
}

/// espeak-ng's global state, behind the one lock every caller must take.
static ESPEAK: Mutex<Option<Espeak>> = Mutex::new(None);

/// Exclusive access to espeak-ng.
pub struct EspeakGuard(MutexGuard<'static, Option<Espeak>>);

impl Espeak {
    /// Locks espeak-ng, initialising it from `data_dir` (the `espeak-ng-data` folder) on first
    /// use. Later calls with another folder keep the first one: espeak-ng cannot be
    /// re-initialised in one process.
    pub fn lock(data_dir: &Path) -> Result<EspeakGuard, PhonemizeError> {
        let mut guard = ESPEAK.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let init_error = || PhonemizeError::Init {
                path: data_dir.to_path_buf(),
            };
            check_data_dir(data_dir)?;
            let path =
                CString::new(data_dir.as_os_str().as_encoded_bytes()).map_err(|_| init_error())?;
            if !data_dir.join("phontab").is_file() {
                return Err(init_error());
            }
            // SAFETY: `path` is a valid C string for the duration of the call; the lock above
            // serialises every espeak-ng call in the process.
            let rate = unsafe {
                sys::espeak_Initialize(
                    sys::espeak_AUDIO_OUTPUT_AUDIO_OUTPUT_SYNCHRONOUS,
                    0,
                    path.as_ptr(),
                    sys::espeakINITIALIZE_DONT_EXIT as c_int,
                )
            };
            if rate <= 0 {
                return Err(init_error());
            }
            *guard = Some(Espeak {
                data_dir: data_dir.to_path_buf(),
                voice: None,
            });
        }
        Ok(EspeakGuard(guard))
    }
}

impl EspeakGuard {
    fn state(&mut self) -> &mut Espeak {
        // `lock` only returns a guard after filling the slot.
        self.0.get_or_insert_with(|| Espeak {
            data_dir: PathBuf::new(),
            voice: None,
        })
    }

    /// The data folder espeak-ng runs on.
    pub fn data_dir(&mut self) -> PathBuf {
        self.state().data_dir.clone()
    }

    /// Selects an espeak voice by name (`en-us`, …).
    ///
    /// espeak-ng frees its current translator before it knows whether the new voice loads, so
    /// a failed switch leaves no usable voice behind. The voice selected before is then
    /// loaded again; if even that fails, no voice is remembered and [`Self::clauses`] refuses
    /// to run until a switch succeeds.
    pub fn set_voice(&mut self, voice: &str) -> Result<(), PhonemizeError> {
        if self.state().voice.as_deref() == Some(voice) {
            return Ok(());
        }
        check_voice_name(voice)?;
        let previous = self.state().voice.take();
        let data_dir = self.state().data_dir.clone();
        let error = match select(voice, &data_dir) {
            Ok(()) => {
                self.state().voice = Some(voice.to_owned());
                return Ok(());
            }
            Err(Missing::Voice) => PhonemizeError::UnknownVoice(voice.into()),
            Err(Missing::Dictionary(path)) => PhonemizeError::NoDictionary {
                voice: voice.into(),
                path,
            },
        };
        if let Some(previous) = previous
            && select(&previous, &data_dir).is_ok()
        {
            self.state().voice = Some(previous);
        }
        Err(error)
    }

    /// espeak-ng's clauses for `text`: (IPA phonemes, how the clause ended), in order.
    pub fn clauses(&mut self, text: &str) -> Result<Vec<(String, Terminator)>, PhonemizeError> {
        if self.state().voice.is_none() {
            return Err(PhonemizeError::NoVoice);
        }
        let c_text = CString::new(text).map_err(|_| PhonemizeError::Nul)?;
        let mut clauses = Vec::new();
        let mut cursor: *const c_void = c_text.as_ptr().cast();
        while !cursor.is_null() {
            let mut flags: c_int = 0;
            // SAFETY: re-creation of the fork's espeak_TextToPhonemesWithTerminator. `cursor`
            // points into `c_text`, which outlives the loop; the decoder reads up to its NUL.
            // espeak-ng's globals are only touched under the guard. UTF-8 mode ignores the
            // encoding argument, so the translator's encoding field is not needed.
            let phonemes = unsafe {
                if p_decoder.is_null() {
                    p_decoder = sys::create_text_decoder();
                }
                if sys::text_decoder_decode_string_multibyte(
                    p_decoder,
                    cursor,
                    0,
                    sys::espeakCHARS_UTF8 as c_int,
                ) != sys::espeak_ng_STATUS_ENS_OK
                {
                    break;
                }
                TranslateClauseWithTerminator(
                    translator,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    &mut flags,
                );
                cursor = sys::text_decoder_get_buffer(p_decoder);
                let ptr = GetTranslatedPhonemeString(sys::espeakPHONEMES_IPA as c_int);
                if ptr.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(ptr).to_string_lossy().into_owned()
                }
            };
            clauses.push((phonemes, Terminator::from_flags(flags)));
        }
        Ok(clauses)
    }
}

/// What a voice switch found missing.
enum Missing {
    /// espeak-ng could not load the voice.
    Voice,
    /// It loaded the voice, but not its dictionary (this file).
    Dictionary(PathBuf),
}

/// Asks espeak-ng for `voice`, whose data lives in `data_dir`. Call with the espeak-ng lock
/// held (through an [`EspeakGuard`]).
///
/// A failed load may have freed the translator and left the global pointing at it (espeak-ng
/// does so when a dictionary name is empty), and the next load would free it again. So after
/// any failure the pointer is cleared: the next load builds a fresh translator. When the old
/// one was in fact still alive, it leaks; a failed switch is rare and the leak is a few hundred
/// KB, where a double free would take the host down.
fn select(voice: &str, data_dir: &Path) -> Result<(), Missing> {
    let Ok(name) = CString::new(voice) else {
        return Err(Missing::Voice);
    };
    // SAFETY: a valid C string for the call; the caller holds the lock that serialises every
    // espeak-ng call, so `translator` and `dictionary_name` are only touched here, under it.
    // `dictionary_name` is a NUL-terminated array (espeak-ng copies at most 40 bytes into its
    // 40 and every name it loads is shorter); it is read only up to its first NUL.
    let (loaded, dictionary) = unsafe {
        let loaded = sys::espeak_SetVoiceByName(name.as_ptr()) == sys::espeak_ERROR_EE_OK
            && !translator.is_null();
        if !loaded {
            translator = std::ptr::null_mut();
        }
        let raw = &*std::ptr::addr_of!(dictionary_name);
        let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
        let bytes: Vec<u8> = raw[..end].iter().map(|&c| c as u8).collect();
        (loaded, String::from_utf8_lossy(&bytes).into_owned())
    };
    if !loaded {
        return Err(Missing::Voice);
    }
    // espeak-ng loads a voice even when its dictionary cannot be read, and then reads every
    // word as nothing.
    let path = data_dir.join(format!("{dictionary}_dict"));
    if dictionary.is_empty() || std::fs::metadata(&path).map_or(true, |m| m.len() == 0) {
        return Err(Missing::Dictionary(path));
    }
    Ok(())
}

/// Removes espeak-ng's language-switch marks, `(en)…(fr)`, which surround words it reads with
/// another language's rules; Piper drops them.
pub(super) fn strip_language_flags(phonemes: &str) -> String {
    let mut out = String::with_capacity(phonemes.len());
    let mut rest = phonemes;
    while let Some(open) = rest.find('(') {
        match rest[open + 1..].find(')') {
            // Piper's pattern is `\([^)]+\)`: at least one character inside.
            Some(len) if len > 0 => {
                out.push_str(&rest[..open]);
                rest = &rest[open + 1 + len + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Removes the emoji/text presentation selectors U+FE0E and U+FE0F. They carry no sound, and
/// the espeak-ng vendored here mangles multi-word emoji names after them ("✔️ and ✔" reads
/// "heavy and heavy check mark mark"), where Piper's fork reads them as if they were absent.
fn without_presentation_selectors(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\u{FE0E}', '\u{FE0F}']) {
        text.replace(['\u{FE0E}', '\u{FE0F}'], "").into()
    } else {
        text.into()
    }
}

/// Phonemes of one sentence, one Unicode scalar (after NFD decomposition) per phoneme, as Piper
/// feeds them to the voice's phoneme id map.
pub type SentencePhonemes = Vec<char>;

/// One sentence's phonemes, kept in espeak-ng's clauses (each ends with its punctuation, as
/// Piper appends it), so a long sentence can be synthesised clause group by clause group.
pub type ClausedSentence = Vec<SentencePhonemes>;

/// Converts text to phonemes grouped by sentence, exactly as piper-tts 1.8.0 does.
pub fn phonemize(
    espeak: &mut EspeakGuard,
    voice: &str,
    text: &str,
) -> Result<Vec<SentencePhonemes>, PhonemizeError> {
    Ok(phonemize_clauses(espeak, voice, text)?
        .into_iter()
        .map(|clauses| clauses.concat())
        .collect())
}

/// Like [`phonemize`], but each sentence keeps its clauses apart.
///
/// Text may embed raw phonemes as `[[ ... ]]` (Piper's syntax): each character inside is used
/// as a phoneme as is; the block joins the sentence being built, with a space where the text
/// around it has one, and the text after it continues that sentence.
pub fn phonemize_clauses(
    espeak: &mut EspeakGuard,
    voice: &str,
    text: &str,
) -> Result<Vec<ClausedSentence>, PhonemizeError> {
    espeak.set_voice(voice)?;
    let parts = split_phoneme_blocks(text);
    let mut sentences: Vec<ClausedSentence> = Vec::new();
    let mut after_raw = false;
    for (i, part) in parts.iter().enumerate() {
        if let Some(raw) = part.strip_prefix("[[").and_then(|p| p.strip_suffix("]]")) {
            let mut clause = SentencePhonemes::new();
            if i > 0 && parts[i - 1].ends_with(' ') {
                clause.push(' ');
            }
            clause.extend(raw.trim().chars());
            if parts.get(i + 1).is_some_and(|next| next.starts_with(' ')) {
                clause.push(' ');
            }
            match sentences.last_mut() {
                Some(sentence) => sentence.push(clause),
                None => sentences.push(vec![clause]),
            }
            after_raw = true;
            continue;
        }
        let mut spoken = espeak_sentences(espeak, part)?;
        if after_raw && !spoken.is_empty() {
            let first = spoken.remove(0);
            if let Some(sentence) = sentences.last_mut() {
                sentence.extend(first);
            }
        }
        sentences.extend(spoken);
        after_raw = false;
    }
    sentences.retain(|s| s.iter().any(|c| !c.is_empty()));
    Ok(sentences)
}

/// Splits text around `[[ ... ]]` blocks (kept whole, brackets included), like Piper's
/// `re.split(r"(\[\[.*?\]\])", text)`.
fn split_phoneme_blocks(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("[[") {
        let Some(len) = rest[open + 2..].find("]]") else {
            break;
        };
        let close = open + 2 + len + 2;
        parts.push(&rest[..open]);
        parts.push(&rest[open..close]);
        rest = &rest[close..];
    }
    parts.push(rest);
    parts
}

/// espeak-ng's sentences for plain text (no phoneme blocks), clauses kept apart.
fn espeak_sentences(
    espeak: &mut EspeakGuard,
    text: &str,
) -> Result<Vec<ClausedSentence>, PhonemizeError> {
    let mut sentences = Vec::new();
    let mut sentence = ClausedSentence::new();
    for (phonemes, terminator) in espeak.clauses(&without_presentation_selectors(text))? {
        let mut clause = strip_language_flags(&phonemes);
        if let Some(p) = terminator.punctuation {
            clause.push(p);
            if matches!(p, ',' | ':' | ';') {
                clause.push(' ');
            }
        }
        sentence.push(clause.nfd().collect());
        if terminator.end_of_sentence {
            sentences.push(std::mem::take(&mut sentence));
        }
    }
    if sentence.iter().any(|c| !c.is_empty()) {
        sentences.push(sentence);
    }
    sentences.retain(|s: &ClausedSentence| s.iter().any(|c| !c.is_empty()));
    Ok(sentences)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_path_espeak_ng_cannot_hold_is_refused() {
        let short = Path::new("/usr/lib/orator/espeak-ng-data");
        assert!(check_data_dir(short).is_ok());
        let long = PathBuf::from(format!("/{}/espeak-ng-data", "d".repeat(150)));
        let err = check_data_dir(&long).unwrap_err().to_string();
        assert!(
            err.contains("at most 159") && err.contains("ORATOR_RESOURCES"),
            "{err}"
        );
    }

    #[test]
    fn language_flags_are_removed_like_piper_does() {
        assert_eq!(strip_language_flags("(fr)bɔ̃ʒuʁ(en) wɜːld"), "bɔ̃ʒuʁ wɜːld");
        assert_eq!(strip_language_flags("a() b"), "a() b");
        assert_eq!(strip_language_flags("a(b"), "a(b");
    }

    #[test]
    fn presentation_selectors_are_removed() {
        assert_eq!(
            without_presentation_selectors("a ✔\u{FE0F} b ✔\u{FE0E}"),
            "a ✔ b ✔"
        );
        assert!(matches!(
            without_presentation_selectors("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    proptest::proptest! {
        /// Splitting around [[ ]] blocks keeps every character, in order.
        #[test]
        fn phoneme_block_split_is_lossless(text in "(\\PC|\\[\\[|\\]\\]){0,60}") {
            let parts = split_phoneme_blocks(&text);
            proptest::prop_assert_eq!(parts.concat(), text);
        }
    }

    #[test]
    fn phoneme_blocks_split_like_pipers_regex() {
        assert_eq!(split_phoneme_blocks("a [[x y]] b"), ["a ", "[[x y]]", " b"]);
        assert_eq!(
            split_phoneme_blocks("[[x]][[y]]"),
            ["", "[[x]]", "", "[[y]]", ""]
        );
        assert_eq!(
            split_phoneme_blocks("no block [[ open"),
            ["no block [[ open"]
        );
    }

    #[test]
    fn terminators_decode_to_piper_punctuation() {
        let t = Terminator::from_flags(CLAUSE_QUESTION);
        assert_eq!((t.punctuation, t.end_of_sentence), (Some('?'), true));
        let t = Terminator::from_flags(CLAUSE_COMMA);
        assert_eq!((t.punctuation, t.end_of_sentence), (Some(','), false));
        let t = Terminator::from_flags(CLAUSE_TYPE_SENTENCE | 70);
        assert_eq!((t.punctuation, t.end_of_sentence), (None, true));
    }
}
