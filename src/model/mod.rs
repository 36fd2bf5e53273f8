//! The plain data of statectl: addresses, values, resources, environments,
//! objectives and estates.
//!
//! This module owns the types every other module speaks in, and the
//! invariants that make them safe to pass around (an [`Address`] is always
//! well-formed, an [`Estate`]'s graph is always acyclic and complete). It does
//! no I/O and knows nothing of files, encodings, stores or clouds: the spec
//! loader builds these types, the store encodes them, the planner compares
//! them.

mod address;
mod baseline;
mod digest;
mod environment;
mod estate;
mod exception;
mod graph;
mod history;
mod interval;
mod objectives;
mod observed;
mod resource;
mod table;
mod time;
mod value;

pub use address::{Address, AddressError, check_identifier, is_identifier};
pub use baseline::{Baseline, Expect, Floor, Requirement};
pub use digest::{Digest, DigestError};
pub use environment::{Environment, MaintenanceWindow, Weekday, format_clock, parse_clock};
pub use estate::Estate;
pub use exception::{Condition, ExceptionScope, PolicyException};
pub use graph::{Graph, GraphError};
pub use history::{
    AuditEntry, Checkpoint, Generation, GenerationKind, Outcome, Release, ReleaseEnv,
    RestoreReport, Stack, StackNameError,
};
pub use interval::{Interval, IntervalError};
pub use objectives::{CostItem, Objectives};
pub use observed::{ObservedResource, Secret};
pub use resource::{Lifecycle, Resource};
pub use table::Table;
pub use time::{TimeError, UtcTime};
pub use value::{Reference, Segment, Value};
