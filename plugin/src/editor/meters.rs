//! Level meters: peak and RMS bars for the track, sidechain, voice and output, the voice's
//! short-term loudness and true peak, and the gain reductions of the ducker and the
//! compressor, read from the audio thread's atomics.

use crate::loudness::live::LiveLoudness;
use crate::meters::{Level, Meters};
use std::sync::atomic::Ordering;

/// The meters' floor, dB.
const FLOOR_DB: f32 = -60.0;

/// Position of `db` on a meter, 0 (floor) to 1 (0 dBFS).
pub fn fraction(db: f32) -> f32 {
    if db.is_nan() {
        return 0.0;
    }
    ((db - FLOOR_DB) / -FLOOR_DB).clamp(0.0, 1.0)
}

fn to_db(linear: f32) -> f32 {
    if linear > 0.0 {
        20.0 * linear.log10()
    } else {
        f32::NEG_INFINITY
    }
}

/// Draws every meter in one row.
pub fn show(ui: &mut egui::Ui, meters: &Meters) {
    ui.horizontal(|ui| {
        let width = ((ui.available_width() - 48.0) / 7.0).max(60.0);
        level(ui, "Track", &meters.input, width);
        level(ui, "Sidechain", &meters.sidechain, width);
        level(ui, "Voice", &meters.voice, width);
        loudness(ui, &meters.voice_loudness, width);
        level(ui, "Out", &meters.output, width);
        reduction(ui, "Duck", meters.duck_db.load(Ordering::Relaxed), width);
        reduction(
            ui,
            "Comp",
            meters.compressor_db.load(Ordering::Relaxed),
            width,
        );
    });
}

fn level(ui: &mut egui::Ui, name: &str, level: &Level, width: f32) {
    let peak = to_db(level.peak.load(Ordering::Relaxed));
    let rms = to_db(level.rms.load(Ordering::Relaxed));
    ui.vertical(|ui| {
        ui.small(name);
        let (rect, response) =
            ui.allocate_exact_size(egui::vec2(width, 10.0), egui::Sense::hover());
        let painter = ui.painter();
        painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
        let bar = |f: f32| {
            egui::Rect::from_min_size(rect.min, egui::vec2(rect.width() * f, rect.height()))
        };
        let hot = peak > -1.0;
        let peak_color = if hot {
            egui::Color32::from_rgb(220, 80, 60)
        } else {
            egui::Color32::from_rgb(60, 140, 80)
        };
        painter.rect_filled(bar(fraction(peak)), 2.0, peak_color);
        painter.rect_filled(
            bar(fraction(rms)),
            2.0,
            egui::Color32::from_rgb(110, 210, 130),
        );
        response.on_hover_text(format!("peak {peak:.1} dBFS, RMS {rms:.1} dBFS"));
    });
}

/// The voice's short-term loudness (a bar from −60 to 0 LUFS) and its true peak over the
/// last 3 s, as numbers.
fn loudness(ui: &mut egui::Ui, live: &LiveLoudness, width: f32) {
    let short_term = live.short_term.load(Ordering::Relaxed);
    let true_peak = live.true_peak.load(Ordering::Relaxed);
    let number = |v: f32| {
        if v.is_finite() {
            format!("{v:.1}")
        } else {
            "–".to_owned()
        }
    };
    ui.vertical(|ui| {
        ui.small(format!(
            "{} LUFS · {} dBTP",
            number(short_term),
            number(true_peak)
        ));
        let (rect, response) =
            ui.allocate_exact_size(egui::vec2(width, 10.0), egui::Sense::hover());
        let painter = ui.painter();
        painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
        let bar = egui::Rect::from_min_size(
            rect.min,
            egui::vec2(rect.width() * fraction(short_term), rect.height()),
        );
        painter.rect_filled(bar, 2.0, egui::Color32::from_rgb(90, 160, 220));
        response.on_hover_text(format!(
            "The voice's short-term loudness (the last 3 s, BS.1770): {} LUFS; its true peak \
             over the last 3 s: {} dBTP",
            number(short_term),
            number(true_peak)
        ));
    });
}

fn reduction(ui: &mut egui::Ui, name: &str, db: f32, width: f32) {
    // Reductions are stored as gains in dB (0 or below).
    let amount = (-db).clamp(0.0, 30.0);
    ui.vertical(|ui| {
        ui.small(name);
        let (rect, response) =
            ui.allocate_exact_size(egui::vec2(width, 10.0), egui::Sense::hover());
        let painter = ui.painter();
        painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
        let w = rect.width() * amount / 30.0;
        if w >= 1.0 {
            let bar = egui::Rect::from_min_max(egui::pos2(rect.max.x - w, rect.min.y), rect.max);
            painter.rect_filled(bar, 2.0, egui::Color32::from_rgb(220, 170, 60));
        }
        response.on_hover_text(format!("{amount:.1} dB of gain reduction"));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_maps_the_floor_to_0_and_full_scale_to_1() {
        assert_eq!(fraction(FLOOR_DB), 0.0);
        assert_eq!(fraction(0.0), 1.0);
        assert_eq!(fraction(-30.0), 0.5);
        assert_eq!(fraction(f32::NEG_INFINITY), 0.0);
        assert_eq!(fraction(f32::NAN), 0.0);
        assert_eq!(fraction(12.0), 1.0);
    }
}
