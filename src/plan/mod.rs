//! The planner: desired state (a release, for one environment) against
//! observed state (the latest generation) gives a [`Plan`] of ordered
//! actions with per-property diffs.
//!
//! It takes model types in and hands a plain `Plan` on; it never calls a
//! provider and never writes the store. Creates and updates follow the
//! dependency graph; deletes run in reverse of it; values the cloud
//! computes are unknown until apply. Deleting or replacing a stateful or
//! protected resource is blocked unless data loss is allowed. The
//! Terraform-shaped JSON (`terraform show -json`) lives beside the plan in
//! [`json`]; the human rendering in [`render`].

mod action;
pub mod json;
mod planner;
pub mod render;

pub use action::{Action, ActionKind, Plan, PlanCounts, PlanOptions, PropertyChange, Target};
pub use planner::{PlanError, PlanInput, plan};

#[cfg(test)]
pub(crate) mod testkit;
