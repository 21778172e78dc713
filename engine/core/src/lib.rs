//! Spirit Analytics core: everything below the front ends.
//!
//! - [`config`]: `spirit.toml` and `SPIRIT_*` overrides.
//! - [`store`]: the embedded DuckDB file and its tables.
//! - [`store_table`]: the DataFusion table over one store table.
//! - [`catalog`]: the `public` schema DataFusion sees, backed by the store.
//! - [`engine`]: the DataFusion session shared by every front end.
//! - [`demo`]: the Spirit Tours demo data set and its planted truths.
//!
//! Nothing here knows about the wire protocol; the server crate maps [`SpiritError`] to SQLSTATEs.

pub mod catalog;
pub mod config;
pub mod demo;
pub mod engine;
pub mod error;
pub mod store;
pub mod store_table;

pub use config::Config;
pub use engine::Engine;
pub use error::{Result, SpiritError};
