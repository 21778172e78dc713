//! Single-threaded pthread stubs, so plugin authors never meet a link error they cannot fix.
//!
//! Rust's wasm32-wasip2 standard library links against `pthread_create` and four helpers as
//! soon as anything reaches `std::thread` (rayon does, through forust-ml and augurs). Debian's
//! wasi-libc (2022), the only one the project's machines can install, lacks them, so the link
//! fails with `undefined symbol: pthread_create`. With these stubs `std::thread::spawn` reports
//! "operation not supported" and rayon runs its work on the calling thread. Measured on these
//! machines with Rust 1.96 (see TOOLCHAIN.md); the `pthread-shim` feature turns this off once a
//! wasi-libc with its own stubs is in use.

#![allow(unsafe_code, reason = "exporting C symbols takes #[unsafe(no_mangle)]")]

use std::ffi::{c_int, c_void};

/// `ENOSYS` ("function not implemented") in WASI's errno numbering.
const ENOSYS: c_int = 52;

/// Refuses to start a thread; std turns this into an `io::Error`.
#[unsafe(no_mangle)]
pub extern "C" fn pthread_create(
    _thread: *mut *mut c_void,
    _attr: *const c_void,
    _start: Option<extern "C" fn(*mut c_void) -> *mut c_void>,
    _arg: *mut c_void,
) -> c_int {
    ENOSYS
}

/// Accepts any attributes; there is no thread to apply them to.
#[unsafe(no_mangle)]
pub extern "C" fn pthread_attr_init(_attr: *mut c_void) -> c_int {
    0
}

/// Accepts any stack size; there is no thread to apply it to.
#[unsafe(no_mangle)]
pub extern "C" fn pthread_attr_setstacksize(_attr: *mut c_void, _stack_size: usize) -> c_int {
    0
}

/// Nothing to free.
#[unsafe(no_mangle)]
pub extern "C" fn pthread_attr_destroy(_attr: *mut c_void) -> c_int {
    0
}

/// Nothing to detach: no thread was ever created.
#[unsafe(no_mangle)]
pub extern "C" fn pthread_detach(_thread: *mut c_void) -> c_int {
    0
}
