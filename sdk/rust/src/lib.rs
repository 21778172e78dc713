//! Write Spirit Analytics plugins in plain Rust.
//!
//! A source connector is a WebAssembly component implementing the `connector` world of the WIT
//! package `spirit:plugin` (`sdk/wit/plugin.wit`). This crate hides that world: implement
//! [`Connector`] on a type with [`Default`], return Arrow
//! [`RecordBatch`](arrow_array::RecordBatch)es, and call [`export_connector!`]. The SDK then
//!
//! - encodes schemas and batches as Arrow IPC streams, the form data takes across the boundary;
//! - checks each batch against the schema the table declares and applies the engine's
//!   projection and LIMIT, so a connector may always return whole rows;
//! - maps [`Error`] to the WIT `plugin-error` the engine turns into an SQL error;
//! - routes panic messages to the engine's log, since a panic in wasm ends as a bare trap;
//! - carries the pthread stubs Debian's wasi-libc lacks (feature `pthread-shim`, on by default),
//!   so a plugin pulling in `std::thread` (rayon, via ML crates) still links.
//!
//! The engine's side of the boundary is in [`host`]: logging, config, secrets, HTTP GET to the
//! manifest's allowed hosts, and file reads under its allowed paths.
//!
//! ```rust,ignore
//! use spirit_plugin_sdk::prelude::*;
//!
//! #[derive(Default)]
//! struct Hello;
//!
//! impl Connector for Hello {
//!     fn tables(&self) -> Result<Vec<Table>> {
//!         let schema = Arc::new(Schema::new(vec![Field::new("greeting", DataType::Utf8, false)]));
//!         Ok(vec![Table::new("greetings", "One friendly row", schema)])
//!     }
//!
//!     fn scan(&self, _request: &ScanRequest) -> Result<ScanPage> {
//!         let schema = self.tables()?.remove(0).schema;
//!         let mut greeting = StringBuilder::new();
//!         greeting.append_value(host::config("greeting").unwrap_or_else(|| "hello".into()));
//!         let batch = RecordBatch::try_new(schema, vec![Arc::new(greeting.finish())])?;
//!         Ok(ScanPage::last(vec![batch]))
//!     }
//! }
//!
//! export_connector!(Hello);
//! ```
//!
//! The example is `ignore`d because it only makes sense built as a plugin (a `cdylib` for
//! wasm32-wasip2); `plugins/pbx_cdr` and `plugins/payments_http` are complete, built ones, and
//! `sdk/README.md` walks from an empty folder to a loaded plugin.

#[cfg(not(any(feature = "connector", feature = "model")))]
compile_error!("enable the `connector` feature (a data source) or the `model` feature (a model)");

#[cfg(feature = "connector")]
mod connector;
mod error;
#[cfg(feature = "connector")]
mod export;
pub mod host;
mod ipc;
#[cfg(feature = "model")]
mod model;
#[cfg(feature = "model")]
mod model_export;
mod panic_hook;
#[cfg(all(target_arch = "wasm32", target_os = "wasi", feature = "pthread-shim"))]
mod pthread_shim;

pub use arrow_array;
pub use arrow_schema;
#[cfg(feature = "connector")]
pub use connector::{
    Connector, DESCRIPTION_KEY, Filter, FilterOp, Literal, ScanPage, ScanRequest, Table, column,
};
pub use error::{Error, ErrorKind, Result};
#[cfg(feature = "model")]
pub use model::{
    Algorithm, Features, Forecast, ForecastRequest, Model, PredictRequest, Task, TrainRequest,
    Trained,
};

/// The `spirit:plugin` WIT package version this SDK implements; a plugin's manifest declares
/// it as `api`.
pub const API_VERSION: &str = "0.1.0";

/// Everything a connector usually needs, in one `use`.
#[cfg(feature = "connector")]
pub mod prelude {
    pub use std::sync::Arc;

    pub use arrow_array::builder::{
        BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
        TimestampMicrosecondBuilder,
    };
    pub use arrow_array::{ArrayRef, RecordBatch};
    pub use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

    pub use crate::host::{self, Level};
    pub use crate::{
        Connector, Error, ErrorKind, Filter, FilterOp, Literal, Result, ScanPage, ScanRequest,
        Table, column, export_connector,
    };
}

/// Everything a model plugin usually needs, in one `use`.
#[cfg(feature = "model")]
pub mod model_prelude {
    pub use crate::host::{self, Level};
    pub use crate::{
        Algorithm, Error, ErrorKind, Features, Forecast, ForecastRequest, Model, PredictRequest,
        Result, Task, TrainRequest, Trained, export_model,
    };
}

/// Generated bindings of the `connector` world. Public only because [`export_connector!`]
/// expands in the plugin's crate and must reach them.
#[cfg(feature = "connector")]
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, unused_qualifications, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "connector",
        path: "../wit",
        // The export macro is invoked from plugin crates, not from this one.
        pub_export_macro: true,
        export_macro_name: "export_connector_world",
        default_bindings_module: "spirit_plugin_sdk::bindings",
    });
}

/// Generated bindings of the `model` world, for [`export_model!`]. A separate feature from the
/// connector world: a component carries the WIT of every world linked into it and must
/// implement them all, so a plugin enables exactly one.
#[cfg(feature = "model")]
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, unused_qualifications, clippy::all)]
pub mod model_bindings {
    wit_bindgen::generate!({
        world: "model",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "export_model_world",
        default_bindings_module: "spirit_plugin_sdk::model_bindings",
    });
}

/// What [`export_model!`] expands to refers to; not part of the API.
#[cfg(feature = "model")]
#[doc(hidden)]
pub mod __private_model {
    pub use crate::model_bindings::Guest;
    pub use crate::model_bindings::spirit::plugin::types::{
        AlgorithmInfo, ForecastRequest, ForecastResult, PluginError, PluginMetadata,
        PredictRequest, TrainRequest, TrainedModel,
    };
    pub use crate::model_export::{algorithms, forecast, predict, train};

    /// The `metadata` export.
    pub fn metadata(name: &str, version: &str) -> PluginMetadata {
        PluginMetadata {
            name: name.to_owned(),
            version: version.to_owned(),
        }
    }
}

/// Makes `$model` (a type implementing [`Model`] and [`Default`]) the plugin's implementation
/// of the `model` world. Invoke it once, at the root of the plugin crate, with the SDK's
/// `model` feature on and `connector` off.
#[cfg(feature = "model")]
#[macro_export]
macro_rules! export_model {
    ($model:ty) => {
        const _: () = {
            struct SpiritModel;

            ::std::thread_local! {
                static MODEL: $model = <$model as ::core::default::Default>::default();
            }

            impl $crate::__private_model::Guest for SpiritModel {
                fn metadata() -> $crate::__private_model::PluginMetadata {
                    $crate::__private_model::metadata(
                        ::core::env!("CARGO_PKG_NAME"),
                        ::core::env!("CARGO_PKG_VERSION"),
                    )
                }

                fn algorithms() -> ::std::vec::Vec<$crate::__private_model::AlgorithmInfo> {
                    MODEL.with(|model| $crate::__private_model::algorithms(model))
                }

                fn train(
                    request: $crate::__private_model::TrainRequest,
                ) -> ::core::result::Result<
                    $crate::__private_model::TrainedModel,
                    $crate::__private_model::PluginError,
                > {
                    MODEL.with(|model| $crate::__private_model::train(model, request))
                }

                fn predict(
                    request: $crate::__private_model::PredictRequest,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<u8>,
                    $crate::__private_model::PluginError,
                > {
                    MODEL.with(|model| $crate::__private_model::predict(model, request))
                }

                fn forecast(
                    request: $crate::__private_model::ForecastRequest,
                ) -> ::core::result::Result<
                    $crate::__private_model::ForecastResult,
                    $crate::__private_model::PluginError,
                > {
                    MODEL.with(|model| $crate::__private_model::forecast(model, request))
                }
            }

            $crate::model_bindings::export_model_world!(
                SpiritModel with_types_in $crate::model_bindings
            );
        };
    };
}

/// What [`export_connector!`] expands to refers to; not part of the API.
#[cfg(feature = "connector")]
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::Guest;
    pub use crate::bindings::spirit::plugin::types::{
        PluginError, PluginMetadata, ScanPage, ScanRequest, TableInfo,
    };
    pub use crate::export::{list_tables, metadata, scan};
}

/// Makes `$connector` (a type implementing [`Connector`] and [`Default`]) the plugin's
/// implementation of the `connector` world. Invoke it once, at the root of the plugin crate.
///
/// The instance is created on the first call and lives as long as the engine's instance of the
/// component: one scan (all its pages) or one `tables` call. The plugin reports its crate name and version as its
/// identity; they must match `name` and `version` in `plugin.toml`.
#[cfg(feature = "connector")]
#[macro_export]
macro_rules! export_connector {
    ($connector:ty) => {
        const _: () = {
            struct SpiritConnector;

            ::std::thread_local! {
                static CONNECTOR: $connector = <$connector as ::core::default::Default>::default();
            }

            impl $crate::__private::Guest for SpiritConnector {
                fn metadata() -> $crate::__private::PluginMetadata {
                    $crate::__private::metadata(
                        ::core::env!("CARGO_PKG_NAME"),
                        ::core::env!("CARGO_PKG_VERSION"),
                    )
                }

                fn list_tables() -> ::core::result::Result<
                    ::std::vec::Vec<$crate::__private::TableInfo>,
                    $crate::__private::PluginError,
                > {
                    CONNECTOR.with(|connector| $crate::__private::list_tables(connector))
                }

                fn scan(
                    request: $crate::__private::ScanRequest,
                ) -> ::core::result::Result<
                    $crate::__private::ScanPage,
                    $crate::__private::PluginError,
                > {
                    CONNECTOR.with(|connector| $crate::__private::scan(connector, request))
                }
            }

            $crate::bindings::export_connector_world!(
                SpiritConnector with_types_in $crate::bindings
            );
        };
    };
}
