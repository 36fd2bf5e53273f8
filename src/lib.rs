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
//!                    ops: the workflows over all of them (apply, rollback,
//!                         drift, refresh, mirror sync); cli: parse, ops, render
//! ```
//!
//! # Layers
//!
//! Which module may use which (besides itself); `tests/layering.rs` reads
//! this table and fails on an import that breaks it (test code excepted).
//! Nothing below `cli` uses `cli`; only `settings` reads the process
//! environment.
//!
//! <!-- layers:begin -->
//! | module      | may use                                                  |
//! |-------------|----------------------------------------------------------|
//! | `util`      |                                                          |
//! | `model`     |                                                          |
//! | `settings`  |                                                          |
//! | `catalog`   | model util                                               |
//! | `clock`     | model                                                    |
//! | `keys`      | model                                                    |
//! | `spec`      | model catalog util                                       |
//! | `store`     | model keys clock settings util                           |
//! | `plan`      | model catalog                                            |
//! | `policy`    | model plan                                               |
//! | `verify`    | model catalog plan policy store                          |
//! | `provider`  | model catalog clock util                                 |
//! | `apply`     | model catalog plan provider store                        |
//! | `mirror`    | model keys store settings                                |
//! | `synthetic` | model store                                              |
//! | `ops`       | model catalog clock keys spec store plan policy verify provider apply mirror settings synthetic |
//! | `cli`       | model catalog clock keys spec store plan policy verify provider apply mirror settings synthetic ops |
//! <!-- layers:end -->
//!
//! - [`model`]: plain data and invariants; used by everyone, uses nothing.
//! - [`catalog`]: per-resource-type facts.
//! - [`spec`]: files in, `model::Estate` out.
//! - [`store`]: releases, generations, audit, journal, locks on redb;
//!   bincode appears only in `store::codec`.
//! - [`keys`]: AES-256-GCM data keys and key providers (local key file).
//! - [`clock`]: the injectable clock.
//! - [`settings`]: what the process environment says, read once.
//! - [`ops`]: every workflow that changes state, generic over the provider.
//! - [`cli`]: argument parsing, output and exit codes; the only module that
//!   prints. Library modules return typed errors and never print.
//!
//! Rules that keep it simple: the planner never calls a provider; the
//! applier never parses specs; the mirror only ever sees sealed bytes; the
//! wall clock is read only through an injected clock.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod apply;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod keys;
pub mod mirror;
pub mod model;
pub mod ops;
pub mod plan;
pub mod policy;
pub mod provider;
pub mod settings;
pub mod spec;
pub mod store;
pub mod synthetic;
mod util;
pub mod verify;
