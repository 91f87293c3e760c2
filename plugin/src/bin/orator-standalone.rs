//! Orator as a desktop app: nice-plug's standalone wrapper around the same plugin and editor,
//! with a JACK, ALSA or dummy backend (`orator-standalone --help`). Streamers route its output
//! into OBS through a virtual device (see the README). `ORATOR_API=on` (or a port number)
//! starts the local API with the app, and `ORATOR_TOKEN` sets its token.

fn main() -> std::process::ExitCode {
    orator::platform::tune_own_process_allocator();
    match orator::api::ApiSettings::from_environment() {
        Ok(Some(settings)) => {
            if let Err(why) = orator::api::ApiSettings::set_at_startup(settings) {
                eprintln!("orator-standalone: {why}");
                return std::process::ExitCode::FAILURE;
            }
        }
        Ok(None) => {}
        Err(why) => {
            eprintln!("orator-standalone: {why}");
            return std::process::ExitCode::FAILURE;
        }
    }
    if nice_plug::prelude::nice_export_standalone::<orator::Orator>() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
