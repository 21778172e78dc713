//! Spirit Analytics front ends and the `spirit` binary.
//!
//! - [`pg`]: the PostgreSQL wire protocol (pgwire + datafusion-postgres).
//! - [`server`]: accept loop, connection limit, graceful shutdown.
//! - [`cli`]: `spirit serve | demo | sql`.
//! - [`output`]: result printing for `spirit sql`.

pub mod cli;
pub mod output;
pub mod pg;
pub mod server;
