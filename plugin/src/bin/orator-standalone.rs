//! Orator as a desktop app: nice-plug's standalone wrapper around the same plugin and editor,
//! with a JACK, ALSA or dummy backend (`orator-standalone --help`). Streamers route its output
//! into OBS through a virtual device (see the README).

fn main() -> std::process::ExitCode {
    if nice_plug::prelude::nice_export_standalone::<orator::Orator>() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
