//! The spec language: TOML files under `specs/<estate>/` and
//! `environments/`, loaded into a [`crate::model::Estate`] for one
//! environment.
//!
//! It owns file reading, `${...}` interpolation, reference and dependency
//! checking, and errors that point at `file:line:col` with the key at fault.
//! It hands on only validated model types; it never touches the store, the
//! planner or a provider. The format is documented in `docs/spec-language.md`.

mod error;
pub mod interpolate;
mod loader;
mod source;
mod writer;

pub use error::{Detail, SpecError, SpecErrorKind, SpecErrors};
pub use loader::Loader;
pub use source::{Position, SourceFile};
pub use writer::{EstateDoc, write_project};
