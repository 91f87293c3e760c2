//! Small widgets the tabs share.

use nice_plug::prelude::{BoolParam, Param, ParamSetter};
use nice_plug_egui::widgets::ParamSlider;

pub(super) fn slider_row<P: Param>(
    ui: &mut egui::Ui,
    setter: &ParamSetter,
    label: &str,
    param: &P,
) {
    ui.label(label);
    ui.add(ParamSlider::for_param(param, setter));
    ui.end_row();
}

/// A button that flips a switch parameter through the host (so automation records it).
pub(super) fn toggle(ui: &mut egui::Ui, setter: &ParamSetter, param: &BoolParam, label: &str) {
    let on = param.value();
    if ui
        .selectable_label(on, label)
        .on_hover_text(param.name())
        .clicked()
    {
        setter.begin_set_parameter(param);
        setter.set_parameter(param, !on);
        setter.end_set_parameter(param);
    }
}

/// The first line of `text`, shortened for a list row.
pub(super) fn one_line(text: &str) -> String {
    const MAX: usize = 60;
    let line = text.lines().next().unwrap_or("").trim();
    let more = text.trim().lines().nth(1).is_some();
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None if more => format!("{line} …"),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_shortens_long_and_multi_line_text() {
        assert_eq!(one_line("Hello."), "Hello.");
        assert_eq!(one_line("First\nsecond"), "First …");
        let long = "é".repeat(80);
        assert_eq!(one_line(&long), format!("{}…", "é".repeat(60)));
    }
}
