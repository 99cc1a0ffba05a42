use signal_hook::consts::{SIGINT, SIGTERM};

pub(super) fn on_shutdown(handler: super::Handler) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                handler(&format!("signal {signal}"), signal);
            }
        })?;
    Ok(())
}
