//! The Mix and Tone tabs: the strips, ducking and the voice chain, all host parameters (set
//! through the host, so automation records them). Runs on the GUI thread.

use super::widgets::{slider_row, toggle};
use crate::params::OratorParams;
use nice_plug::prelude::ParamSetter;
use nice_plug_egui::widgets::ParamSlider;

pub(super) fn mix_tab(ui: &mut egui::Ui, params: &OratorParams, setter: &ParamSetter) {
    ui.heading("Strips");
    egui::Grid::new("orator-strips")
        .num_columns(5)
        .show(ui, |ui| {
            ui.label("");
            ui.label("Gain");
            ui.label("Pan");
            ui.label("");
            ui.label("");
            ui.end_row();
            for (name, gain, pan, mute, solo) in [
                (
                    "Track",
                    &params.dry_gain_db,
                    &params.dry_pan,
                    &params.dry_mute,
                    &params.dry_solo,
                ),
                (
                    "Voice",
                    &params.voice_gain_db,
                    &params.voice_pan,
                    &params.voice_mute,
                    &params.voice_solo,
                ),
                (
                    "Sidechain",
                    &params.sidechain_gain_db,
                    &params.sidechain_pan,
                    &params.sidechain_mute,
                    &params.sidechain_solo,
                ),
            ] {
                ui.label(name);
                ui.add(ParamSlider::for_param(gain, setter).with_width(90.0));
                ui.add(ParamSlider::for_param(pan, setter).with_width(70.0));
                toggle(ui, setter, mute, "M");
                toggle(ui, setter, solo, "S");
                ui.end_row();
            }
        });
    ui.separator();
    ui.heading("Ducking");
    egui::Grid::new("orator-duck")
        .num_columns(2)
        .show(ui, |ui| {
            slider_row(ui, setter, "Depth", &params.duck_depth_db);
            slider_row(ui, setter, "Attack", &params.duck_attack_ms);
            slider_row(ui, setter, "Release", &params.duck_release_ms);
            ui.label("Key");
            ui.add(ParamSlider::for_param(&params.duck_key, setter));
            ui.end_row();
        });
    ui.separator();
    egui::Grid::new("orator-out").num_columns(2).show(ui, |ui| {
        slider_row(ui, setter, "Output", &params.output_gain_db);
    });
}

pub(super) fn tone_tab(ui: &mut egui::Ui, params: &OratorParams, setter: &ParamSetter) {
    ui.heading("EQ");
    egui::Grid::new("orator-eq").num_columns(2).show(ui, |ui| {
        slider_row(ui, setter, "Low", &params.eq_low_db);
        slider_row(ui, setter, "Low freq", &params.eq_low_hz);
        slider_row(ui, setter, "Mid", &params.eq_mid_db);
        slider_row(ui, setter, "Mid freq", &params.eq_mid_hz);
        slider_row(ui, setter, "Mid Q", &params.eq_mid_q);
        slider_row(ui, setter, "High", &params.eq_high_db);
        slider_row(ui, setter, "High freq", &params.eq_high_hz);
    });
    ui.separator();
    ui.heading("De-esser");
    egui::Grid::new("orator-deess")
        .num_columns(2)
        .show(ui, |ui| {
            slider_row(ui, setter, "Reduction", &params.deess_db);
        });
    ui.separator();
    ui.heading("Compressor");
    egui::Grid::new("orator-comp")
        .num_columns(2)
        .show(ui, |ui| {
            slider_row(ui, setter, "Threshold", &params.comp_threshold_db);
            slider_row(ui, setter, "Ratio", &params.comp_ratio);
            slider_row(ui, setter, "Attack", &params.comp_attack_ms);
            slider_row(ui, setter, "Release", &params.comp_release_ms);
            slider_row(ui, setter, "Makeup", &params.comp_makeup_db);
        });
    ui.separator();
    ui.heading("Limiter");
    egui::Grid::new("orator-limit")
        .num_columns(2)
        .show(ui, |ui| {
            slider_row(ui, setter, "Ceiling", &params.limit_db);
        });
}
