//! nice-plug's saved state as the CLAP bundle writes it: the JSON inside the blob, and the
//! session (text, settings) inside that, read and replaced for tests.

use anyhow::{Context, Result, ensure};

/// nice-plug's CLAP state blob is the JSON length as a little-endian `u64`, then the JSON.
pub fn state_json(blob: &[u8]) -> Result<&[u8]> {
    let (len, json) = blob
        .split_at_checked(8)
        .context("state blob shorter than its header")?;
    let len = u64::from_le_bytes(len.try_into()?);
    ensure!(
        len == json.len() as u64,
        "state length header says {len}, blob has {}",
        json.len()
    );
    Ok(json)
}

/// Builds a state blob around `json` in nice-plug's layout (see [`state_json`]).
pub fn state_blob(json: &[u8]) -> Vec<u8> {
    let mut blob = (json.len() as u64).to_le_bytes().to_vec();
    blob.extend_from_slice(json);
    blob
}

/// Replaces Orator's session (the persisted `session` field) inside a saved blob.
pub fn with_session(blob: &[u8], session: &str) -> Result<Vec<u8>> {
    let mut state: serde_json::Value = serde_json::from_slice(state_json(blob)?)?;
    state["fields"]["session"] = serde_json::Value::String(session.into());
    Ok(state_blob(&serde_json::to_vec(&state)?))
}

/// A saved blob with the session text replaced, as the editor would set it.
pub fn with_text(blob: &[u8], text: &str) -> Result<Vec<u8>> {
    with_session(
        blob,
        &serde_json::json!({ "schema": 1, "text": text }).to_string(),
    )
}

/// The session inside a saved blob.
pub fn saved_session(blob: &[u8]) -> Result<serde_json::Value> {
    let state: serde_json::Value = serde_json::from_slice(state_json(blob)?)?;
    Ok(serde_json::from_str(
        state["fields"]["session"].as_str().unwrap_or_default(),
    )?)
}

/// The session text inside a saved blob.
pub fn saved_text(blob: &[u8]) -> Result<String> {
    Ok(saved_session(blob)?["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}
