//! A small file picker drawn with egui, for "Load .txt…" and "Load voice…", and the place to
//! save "Export subtitles…" (a folder and a name).
//!
//! Why not a crate: `egui-file-dialog` (the maintained egui picker) targets egui 0.36 while
//! nice-plug-egui uses 0.37, and `rfd` opens the desktop's dialog through an XDG portal or GTK,
//! which plugin hosts and headless machines often lack (and GTK inside a host's process is a
//! known source of crashes). This picker needs nothing but the file system and works in every
//! host, including those that steal the keyboard: it is driven with the mouse alone.

use std::io;
use std::path::{Path, PathBuf};

/// One row of a folder listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// File or folder name.
    pub name: String,
    /// Full path.
    pub path: PathBuf,
    /// Whether it is a folder.
    pub is_dir: bool,
}

/// Lists `dir`: folders first, then files ending in `.{extension}` (case-insensitive), each
/// group sorted by name; hidden entries (a leading dot) are left out.
pub fn list(dir: &Path, extension: &str) -> io::Result<Vec<Item>> {
    let mut items = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follows symlinks, so a linked voices folder opens like a real one.
        let is_dir = path.is_dir();
        let wanted = is_dir
            || path
                .extension()
                .is_some_and(|e| e.to_string_lossy().eq_ignore_ascii_case(extension));
        if wanted {
            items.push(Item { name, path, is_dir });
        }
    }
    items.sort_by(|a, b| {
        b.is_dir
            .cmp(&a.is_dir)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    Ok(items)
}

/// What the picker is choosing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A text file whose lines become the editor's text.
    Text,
    /// A Piper voice model.
    Voice,
    /// Where the project's subtitles go: a folder and a name (an `.srt` and a `.vtt` are
    /// written there; an existing `.srt` picked is replaced).
    Subtitles,
}

impl Purpose {
    fn extension(self) -> &'static str {
        match self {
            Self::Text => "txt",
            Self::Voice => "onnx",
            Self::Subtitles => "srt",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Text => "Load a text file",
            Self::Voice => "Load a Piper voice (.onnx with its .onnx.json beside it)",
            Self::Subtitles => "Export subtitles (.srt and .vtt) to a folder",
        }
    }
}

/// An open picker.
#[derive(Debug)]
pub struct Browser {
    /// What it picks.
    pub purpose: Purpose,
    dir: PathBuf,
    items: Vec<Item>,
    error: Option<String>,
    /// The name to save under ([`Purpose::Subtitles`]).
    name: String,
}

/// How a picker closed.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still open.
    Open,
    /// A file was chosen.
    Picked(PathBuf),
    /// Closed without a choice.
    Cancelled,
}

impl Browser {
    /// Opens in `dir` (or the home folder, or `/`, when `dir` cannot be read).
    pub fn new(purpose: Purpose, dir: Option<PathBuf>) -> Self {
        let home = crate::platform::home_dir();
        let start = dir
            .filter(|d| d.is_dir())
            .or(home.filter(|d| d.is_dir()))
            .unwrap_or_else(|| PathBuf::from("/"));
        let mut browser = Self {
            purpose,
            dir: PathBuf::new(),
            items: Vec::new(),
            error: None,
            name: "subtitles".to_owned(),
        };
        browser.open(start);
        browser
    }

    fn open(&mut self, dir: PathBuf) {
        match list(&dir, self.purpose.extension()) {
            Ok(items) => {
                self.items = items;
                self.dir = dir;
                self.error = None;
            }
            // The old listing stays, so the user is never left on an empty screen.
            Err(err) => self.error = Some(format!("{}: {err}", dir.display())),
        }
    }

    /// Draws the picker as a window over the editor.
    pub fn show(&mut self, ctx: &egui::Context) -> Outcome {
        let mut outcome = Outcome::Open;
        let mut open = true;
        egui::Window::new(self.purpose.title())
            .id(egui::Id::unique("orator-browser"))
            .collapsible(false)
            .resizable(true)
            .default_size([520.0, 380.0])
            .open(&mut open)
            .show(ctx, |ui| {
                ui.horizontal(|ui| {
                    let parent = self.dir.parent().map(Path::to_path_buf);
                    if ui
                        .add_enabled(parent.is_some(), egui::Button::new("Up"))
                        .clicked()
                        && let Some(parent) = parent
                    {
                        self.open(parent);
                    }
                    ui.label(self.dir.display().to_string());
                });
                if let Some(error) = &self.error {
                    ui.colored_label(ui.visuals().error_fg_color, error);
                }
                ui.separator();
                let mut go = None;
                let footer = if self.purpose == Purpose::Subtitles {
                    64.0
                } else {
                    30.0
                };
                egui::ScrollArea::vertical()
                    .id_salt("orator-browser-list")
                    .auto_shrink([false, false])
                    // Room below for Cancel (and the name row when saving).
                    .max_height(ui.available_height() - footer)
                    .show(ui, |ui| {
                        if self.items.is_empty() {
                            ui.weak(format!(
                                "No folders or .{} files here",
                                self.purpose.extension()
                            ));
                        }
                        for item in &self.items {
                            let label = if item.is_dir {
                                format!("{}/", item.name)
                            } else {
                                item.name.clone()
                            };
                            if ui.selectable_label(false, label).clicked() {
                                go = Some(item.clone());
                            }
                        }
                    });
                if let Some(item) = go {
                    if item.is_dir {
                        self.open(item.path);
                    } else {
                        outcome = Outcome::Picked(item.path);
                    }
                }
                ui.separator();
                if self.purpose == Purpose::Subtitles {
                    ui.horizontal(|ui| {
                        ui.label("Name");
                        ui.add(egui::TextEdit::singleline(&mut self.name).desired_width(200.0));
                        let name = self.name.trim();
                        let usable = !name.is_empty() && !name.contains(['/', '\\']);
                        if ui
                            .add_enabled(usable, egui::Button::new("Export here"))
                            .clicked()
                        {
                            outcome = Outcome::Picked(self.dir.join(name));
                        }
                    });
                }
                if ui.button("Cancel").clicked() {
                    outcome = Outcome::Cancelled;
                }
            });
        if !open && outcome == Outcome::Open {
            outcome = Outcome::Cancelled;
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_folders_first_then_matching_files_without_hidden_ones() {
        let dir = std::env::temp_dir().join(format!("orator-browser-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("voices")).unwrap();
        std::fs::create_dir_all(dir.join(".hidden")).unwrap();
        for file in ["b.txt", "A.TXT", "c.onnx", ".secret.txt", "notes.md"] {
            std::fs::write(dir.join(file), "x").unwrap();
        }
        let names = |ext| -> Vec<(String, bool)> {
            list(&dir, ext)
                .unwrap()
                .into_iter()
                .map(|i| (i.name, i.is_dir))
                .collect()
        };
        assert_eq!(
            names("txt"),
            [
                ("voices".to_string(), true),
                ("A.TXT".to_string(), false),
                ("b.txt".to_string(), false)
            ]
        );
        assert_eq!(
            names("onnx"),
            [("voices".to_string(), true), ("c.onnx".to_string(), false)]
        );
        assert!(list(&dir.join("missing"), "txt").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_folder_that_cannot_be_read_keeps_the_old_listing_and_says_why() {
        let mut browser = Browser::new(Purpose::Text, Some(std::env::temp_dir()));
        let before = browser.items.clone();
        browser.open(PathBuf::from("/definitely/not/here"));
        assert_eq!(browser.items, before);
        assert!(
            browser
                .error
                .as_deref()
                .unwrap()
                .contains("/definitely/not/here")
        );
    }
}
