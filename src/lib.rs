//! statectl: a declarative, versioned state store for Azure estates, with a
//! planner and an applier on top of it and a verification-first test harness
//! beside it.
//!
//! # Map
//!
//! Data flows one way through these modules; each arrow is one module's job:
//!
//! ```text
//! spec (TOML) --> model::Estate --> [store: releases] --> plan --> apply --> provider
//!                      \                                              |
//!                       +--> verify (guarantees over estates)  <------+
//! ```
//!
//! - [`model`]: plain data and invariants; used by everyone, uses nothing.
//! - [`catalog`]: per-resource-type facts; uses `model` only for values.
//! - [`spec`]: files in, `model::Estate` out; uses `model` and `catalog`.
//! - [`store`]: releases, generations, audit, journal, locks on redb; uses
//!   `model`, `keys` and `clock`; bincode appears only in `store::codec`.
//! - [`keys`]: AES-256-GCM data keys and key providers (local key file).
//! - [`clock`]: the injectable clock (`STATECTL_NOW`).
//! - [`cli`]: argument parsing, output and exit codes; the only module that
//!   prints. Library modules return typed errors and never print.
//!
//! Rules that keep it simple: the planner never calls a provider; the mirror
//! only ever sees sealed bytes; the wall clock is read only through an
//! injected clock.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod apply;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod keys;
pub mod mirror;
pub mod model;
pub mod plan;
pub mod policy;
pub mod provider;
pub mod spec;
pub mod store;
pub mod synthetic;
mod util;
pub mod verify;
pub mod workflow;
