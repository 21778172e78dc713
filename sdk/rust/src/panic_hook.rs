//! Panic messages go to the engine's log: a panic aborts the instance (wasm has no unwinding),
//! so the engine itself sees only a bare trap.

/// Installs the hook once per instance; every export calls it first.
#[cfg(target_arch = "wasm32")]
pub(crate) fn install() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            crate::host::log(crate::host::Level::Error, &format!("panicked: {info}"));
        }));
    });
}

/// Native builds (the SDK's own tests) have no host to log to.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn install() {}
