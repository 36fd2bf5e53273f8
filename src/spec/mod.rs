//! The spec language: TOML files under `specs/<estate>/` and
//! `environments/`, loaded into a [`crate::model::Estate`] for one
//! environment.
//!
//! It owns file reading, `${...}` interpolation, reference and dependency
//! checking, and errors that point at `file:line:col` with the key at fault.
//! It hands on only validated model types; it never touches the store, the
//! planner or a provider. The format is documented in `docs/spec-language.md`.
//!
//! A load runs in stages, one module each, in this order:
//! - `discovery`: which files exist, read as UTF-8 text (`source` maps
//!   byte offsets to `line:col`);
//! - `toml_access`: typed reads over spanned TOML, and the one converter
//!   from TOML to [`crate::model::Value`];
//! - `environment`, `estate_head`, `vars`, `exceptions`: the schemas of the
//!   environment file, `estate.toml`, `[vars]` tables and `exceptions.toml`;
//! - `scope`: what `${env.*}` and `${var.*}` read;
//! - `declare` (pass 1) then `resolve` (pass 2) over the module files;
//! - `loader`: the [`Loader`] that runs them and decides when to stop.

mod baseline;
mod declare;
mod discovery;
mod environment;
mod error;
mod estate_head;
mod exceptions;
pub mod interpolate;
mod loader;
mod resolve;
mod scope;
mod source;
mod toml_access;
mod vars;
mod writer;

pub use error::{Detail, SpecError, SpecErrorKind, SpecErrors};
pub use loader::{BASELINE_FILE, Loader};
pub use source::{Position, SourceFile};
pub use writer::{EstateDoc, write_project};
