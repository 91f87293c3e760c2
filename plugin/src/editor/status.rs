//! The status line under every tab: the speech service's state and message, the voice, and
//! what the engine measured. Runs on the GUI thread.

use super::App;
use crate::playback::service::{SpeechService, State};
use std::sync::atomic::Ordering;

impl App {
    pub(super) fn status_line(&self, ui: &mut egui::Ui, speech: Option<&SpeechService>) {
        ui.horizontal(|ui| {
            let (color, text) = match speech.map(|s| (s.status.state(), s.status.message())) {
                None => (
                    ui.visuals().error_fg_color,
                    "Speech unavailable: the speech thread could not start (see the log)".into(),
                ),
                Some((State::Idle, _)) => (ui.visuals().weak_text_color(), "Starting…".into()),
                Some((State::Loading, _)) => {
                    (ui.visuals().warn_fg_color, "Loading the voice…".into())
                }
                Some((State::Ready, name)) => (
                    egui::Color32::from_rgb(90, 200, 110),
                    format!("Ready: {name}"),
                ),
                Some((State::Failed, why)) => (
                    ui.visuals().error_fg_color,
                    format!(
                        "Voice failed: {why}. Pick another voice in the Voice tab; audio still \
                         passes through."
                    ),
                ),
            };
            // A painted dot: the default fonts have no symbol glyphs.
            let (dot, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
            ui.painter().circle_filled(dot.center(), 5.0, color);
            ui.label(egui::RichText::new(text).strong());
        });
        // What the last project load could not take, until the next load.
        if let Some(warning) = self.shared.params.session.warning() {
            ui.label(egui::RichText::new(warning).color(ui.visuals().warn_fg_color));
        }
        if let Some(speech) = speech {
            let m = &speech.metrics;
            let busy_ns =
                m.phonemize_ns.load(Ordering::Relaxed) + m.infer_ns.load(Ordering::Relaxed);
            let rtf = speech
                .status
                .voice_rate()
                .and_then(|rate| m.real_time_factor(rate))
                .map_or("–".into(), |r| format!("{r:.2}"));
            let cache = speech
                .cache_hit_rate()
                .map_or("–".into(), |r| format!("{:.0} %", r * 100.0));
            let meters = &self.shared.meters;
            let faults =
                m.errors.load(Ordering::Relaxed) + meters.replaced_inputs.load(Ordering::Relaxed);
            let rate = meters.sample_rate.load(Ordering::Relaxed);
            let late = meters.underruns.load(Ordering::Relaxed);
            let late = if rate > 0.0 {
                format!("{:.0} ms", late as f64 * 1000.0 / f64::from(rate))
            } else {
                format!("{late} samples")
            };
            // Notes and triggers for phrases the text does not have.
            let missing = match speech.bank().missing() {
                0 => String::new(),
                n => format!(" · {n} notes without a phrase"),
            };
            ui.weak(format!(
                "synthesis {:.2} s · RTF {rtf} · cache {cache} · underruns {late} · faults \
                 {faults}{missing}",
                busy_ns as f64 * 1e-9,
            ));
        }
    }
}
