//! The API tab: turns the local server on and off (saved in the project), its ports and token,
//! the chat filter's settings, and what the server is doing (listening, port taken, clients,
//! the last requests). Runs on the GUI thread; every change goes through the session and
//! [`crate::api::refresh`].

use crate::api::{
    self, ApiSettings, ServerState,
    filter::{EmojiMode, EmoticonMode},
};
use crate::state::SharedSession;
use std::sync::atomic::Ordering;

/// What the tab keeps between frames: the fields being typed, applied on Enter or Apply.
#[derive(Default)]
pub(super) struct ApiView {
    port: String,
    udp_port: String,
    token: String,
    word_list: String,
    chat_lexicon: String,
    /// The lexicon file shown (`None`: the built-in one) and its text.
    lexicon_shown: Option<(Option<std::path::PathBuf>, String)>,
    /// The session generation the fields were filled from.
    seen: Option<u64>,
    notice: Option<String>,
    /// The voice aliases section.
    aliases: super::aliases::AliasesView,
}

impl ApiView {
    pub(super) fn show(&mut self, ui: &mut egui::Ui, session: &SharedSession) {
        let settings = session.read(|s| s.api.clone());
        if self.seen != Some(session.generation()) {
            self.port = settings.port.to_string();
            self.udp_port = settings.udp_port.to_string();
            self.token = settings.token.clone();
            self.word_list = settings
                .word_list
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            self.chat_lexicon = settings
                .chat_lexicon
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            self.seen = Some(session.generation());
        }
        let status = api::status();
        ui.heading("Local API");
        ui.label(
            "Chat bots make Orator speak: Streamer.bot's Speaker.bot integration (WebSocket), \
             Speaker.bot's UDP commands, and OpenAI's /v1/audio/speech. Loopback only.",
        );
        ui.add_space(6.0);
        let mut next = settings.clone();
        ui.checkbox(&mut next.enabled, "Enable the API for this instance");
        egui::Grid::new("api-grid").num_columns(2).show(ui, |ui| {
            ui.label("Port (WebSocket + HTTP)");
            ui.text_edit_singleline(&mut self.port);
            ui.end_row();
            ui.label("UDP port (0: off)");
            ui.text_edit_singleline(&mut self.udp_port);
            ui.end_row();
            ui.label("Token (empty: none)");
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(&mut self.token).password(true));
                if ui
                    .button("Generate")
                    .on_hover_text("A new random token, safe in URLs; Apply to use it")
                    .clicked()
                {
                    match api::token::generate() {
                        Ok(token) => self.token = token,
                        Err(why) => self.notice = Some(why.to_string()),
                    }
                }
                if ui
                    .add_enabled(!self.token.trim().is_empty(), egui::Button::new("Copy"))
                    .clicked()
                {
                    ui.ctx().copy_text(self.token.trim().to_owned());
                }
            });
            ui.end_row();
            ui.label("Word list file");
            ui.text_edit_singleline(&mut self.word_list);
            ui.end_row();
            ui.label("Chat lexicon file");
            ui.horizontal(|ui| {
                ui.text_edit_singleline(&mut self.chat_lexicon);
                if ui
                    .button("Save the built-in one…")
                    .on_hover_text(
                        "Writes the built-in chat lexicon (its format explained at its top) to \
                         your data folder to edit, and uses that file; Apply to keep it",
                    )
                    .clicked()
                {
                    match save_built_in_lexicon() {
                        Ok(path) => self.chat_lexicon = path.display().to_string(),
                        Err(why) => self.notice = Some(why.to_string()),
                    }
                }
            });
            ui.end_row();
            ui.label("Emoticons and kaomoji");
            ui.horizontal(|ui| {
                ui.radio_value(&mut next.emoticons, EmoticonMode::Read, "read by meaning");
                ui.radio_value(&mut next.emoticons, EmoticonMode::Drop, "drop");
            });
            ui.end_row();
            ui.label("Emoji");
            ui.horizontal(|ui| {
                ui.radio_value(
                    &mut next.emoji,
                    EmojiMode::FirstName,
                    "say one name per run",
                );
                ui.radio_value(&mut next.emoji, EmojiMode::Drop, "drop");
            });
            ui.end_row();
        });
        ui.checkbox(
            &mut next.filter_editor,
            "Also filter the editor's text like chat",
        );
        ui.checkbox(
            &mut next.api_phonemes,
            "Honour inline phonemes ([[ ]]) from API clients (otherwise taken out)",
        );
        let apply = ui.button("Apply").clicked();
        if apply {
            match self.parse(&settings) {
                Ok(parsed) => {
                    next.port = parsed.port;
                    next.udp_port = parsed.udp_port;
                    next.token = parsed.token;
                    next.word_list = parsed.word_list;
                    next.chat_lexicon = parsed.chat_lexicon;
                    self.notice = None;
                }
                Err(why) => self.notice = Some(why.to_string()),
            }
        }
        if next != settings {
            session.update(|s| s.api = next);
            api::refresh();
        }
        if let Some(notice) = &self.notice {
            ui.colored_label(egui::Color32::from_rgb(220, 120, 60), notice);
        }
        ui.collapsing("Chat lexicon in use", |ui| {
            // Read once per file chosen, not every frame.
            if self.lexicon_shown.as_ref().map(|(p, _)| p) != Some(&settings.chat_lexicon) {
                let text = match &settings.chat_lexicon {
                    Some(path) => std::fs::read_to_string(path)
                        .map(|mine| format!("# {}\n{mine}", path.display()))
                        .unwrap_or_else(|e| format!("{}: {e}", path.display())),
                    None => api::chat::lexicon::BUILT_IN.to_owned(),
                };
                self.lexicon_shown = Some((settings.chat_lexicon.clone(), text));
            }
            if let Some((_, text)) = &self.lexicon_shown {
                egui::ScrollArea::vertical()
                    .id_salt("chat-lexicon")
                    .max_height(200.0)
                    .show(ui, |ui| ui.monospace(text.as_str()));
            }
        });
        ui.collapsing("Voice aliases and chatters' voices", |ui| {
            self.aliases.show(ui, session);
        });
        ui.separator();
        let state = match status.state() {
            ServerState::Off => "Off".to_owned(),
            ServerState::Listening(port) => {
                format!("Listening on ws://127.0.0.1:{port}/ and http://127.0.0.1:{port}/v1")
            }
            ServerState::Failed(why) => format!("Not listening: {why}"),
        };
        ui.label(format!("Status: {state}"));
        ui.label(format!(
            "Clients: {}   requests: {}   refused: {}   UDP refused: {}",
            status.clients.load(Ordering::Relaxed),
            status.requests.load(Ordering::Relaxed),
            status.refused.load(Ordering::Relaxed),
            status.udp_refused.load(Ordering::Relaxed)
        ));
        ui.label("Last requests:");
        egui::ScrollArea::vertical()
            .max_height(160.0)
            .show(ui, |ui| {
                for line in status.recent().iter().rev() {
                    ui.monospace(line);
                }
            });
    }

    fn parse(&self, current: &ApiSettings) -> Result<ApiSettings, FormError> {
        let port: u16 = self
            .port
            .trim()
            .parse()
            .ok()
            .filter(|&p| p > 0)
            .ok_or(FormError::Port)?;
        let udp_port: u16 = self
            .udp_port
            .trim()
            .parse()
            .map_err(|_| FormError::UdpPort)?;
        let word_list = match self.word_list.trim() {
            "" => None,
            path => {
                let path = std::path::PathBuf::from(path);
                api::filter::WordList::load(&path)?;
                Some(path)
            }
        };
        let chat_lexicon = match self.chat_lexicon.trim() {
            "" => None,
            path => {
                let path = std::path::PathBuf::from(path);
                api::chat::lexicon::Lexicon::with_file(&path)?;
                Some(path)
            }
        };
        let next = ApiSettings {
            port,
            udp_port,
            token: self.token.trim().to_owned(),
            word_list,
            chat_lexicon,
            ..current.clone()
        };
        next.validate()?;
        Ok(next)
    }
}

/// Why the API tab's fields could not be applied (shown under them).
#[derive(Debug, thiserror::Error)]
enum FormError {
    #[error("the port must be a number from 1 to 65535")]
    Port,
    #[error("the UDP port must be a number from 0 to 65535")]
    UdpPort,
    #[error("word list: {0}")]
    WordList(#[from] api::filter::WordListError),
    #[error("chat lexicon: {0}")]
    Lexicon(#[from] api::chat::lexicon::LexiconError),
    #[error(transparent)]
    Settings(#[from] api::SettingsError),
}

/// Why the built-in chat lexicon could not be saved for editing.
#[derive(Debug, thiserror::Error)]
enum SaveLexiconError {
    /// No data folder is known.
    #[error("no data folder is known for this user")]
    NoDataFolder,
    /// The folder or file could not be written.
    #[error("{path}: {source}")]
    Write {
        /// Where.
        path: std::path::PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
}

/// Writes the built-in chat lexicon to the user's data folder (`chat-lexicon.txt`, kept if it
/// is there already, so edits are never overwritten) and returns its path.
fn save_built_in_lexicon() -> Result<std::path::PathBuf, SaveLexiconError> {
    let dir = crate::platform::user_data_dir().ok_or(SaveLexiconError::NoDataFolder)?;
    let write = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| SaveLexiconError::Write { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(write(&dir))?;
    let path = dir.join("chat-lexicon.txt");
    if !path.exists() {
        std::fs::write(&path, api::chat::lexicon::BUILT_IN).map_err(write(&path))?;
    }
    Ok(path)
}
