//! A failed espeak-ng voice switch must leave espeak-ng usable and say why. espeak-ng loads a
//! voice whose dictionary is missing and then reads every word as nothing; it may free its
//! translator before a load fails. Orator remembered the previous voice's name over whatever
//! espeak-ng had left, so the next phrase in that voice ran on the wrong (or a freed)
//! translator.
//!
//! Its own test binary: espeak-ng can be initialised once per process, and this one runs on a
//! copy of the data with one dictionary taken out.

use orator::tts::resources::Resources;
use orator::tts::text::phonemize::{Espeak, PhonemizeError, phonemize};
use std::path::Path;

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[test]
fn a_failed_switch_leaves_the_previous_voice_working() -> anyhow::Result<()> {
    let data = Resources::locate()?.espeak_data();
    let scratch = std::env::temp_dir().join(format!("orator-espeak-switch-{}", std::process::id()));
    let copy = scratch.join("espeak-ng-data");
    copy_tree(&data, &copy)?;
    // German's language file stays, its dictionary goes: the switch fails after espeak-ng
    // has let go of the English translator.
    std::fs::remove_file(copy.join("de_dict"))?;
    let mut espeak = Espeak::lock(&copy)?;
    let text = "The quick brown fox jumps over the lazy dog.";
    let before = phonemize(&mut espeak, "en-us", text)?;
    assert!(!before.is_empty());
    for _ in 0..3 {
        let failed = phonemize(&mut espeak, "de", text);
        assert!(
            matches!(failed, Err(PhonemizeError::NoDictionary { ref voice, ref path })
                if voice == "de" && path.ends_with("de_dict")),
            "{failed:?}"
        );
        assert_eq!(phonemize(&mut espeak, "en-us", text)?, before);
        // A voice espeak-ng does not have at all.
        let unknown = phonemize(&mut espeak, "xx-nowhere", text);
        assert!(
            matches!(unknown, Err(PhonemizeError::UnknownVoice(_))),
            "{unknown:?}"
        );
        assert_eq!(phonemize(&mut espeak, "en-us", text)?, before);
    }
    // MBROLA voices are refused before espeak-ng sees them (it would start another program).
    let mbrola = phonemize(&mut espeak, "mb/mb-de1", text);
    assert!(
        matches!(mbrola, Err(PhonemizeError::Mbrola(_))),
        "{mbrola:?}"
    );
    assert!(mbrola.unwrap_err().to_string().contains("MBROLA"));
    assert_eq!(phonemize(&mut espeak, "en-us", text)?, before);
    drop(espeak);
    std::fs::remove_dir_all(&scratch)?;
    Ok(())
}
