//! IAM for Hako: the subset of IAM's API that execution roles need (roles, their inline and
//! attached policies, customer managed policies and their versions, AWS's managed policies
//! that matter for Lambda), and the policy evaluator the rest of Hako asks whether a request
//! is allowed ([`Iam::authorize`]).
//!
//! Shape of a service crate: `model.rs` (records, names, botocore's shapes, IAM's errors as
//! data), `policy.rs` (policy documents parsed once and evaluated with IAM's rules, no IO),
//! `managed.rs` (AWS's managed policies), `app.rs` (`Iam`: one method per operation, and the
//! authorizer with its per-role cache), `store.rs` (the tables of `<data dir>/iam.db` through
//! `hako_store::ServiceDb`), `api.rs` (the query protocol binding).
//!
//! Why not `scratchstack-aspen`: it parses and evaluates policies well, but evaluation is tied
//! to its own principal and session types (`scratchstack-aws-principal`) and its context
//! variables, and it has no notion of the fail-closed handling of condition keys Hako cannot
//! supply; the evaluator Hako needs (IAM's matching, conditions, explicit deny, identity plus
//! resource policy) is a few hundred lines here, table-tested against AWS's evaluation logic.

pub mod api;
mod app;
pub mod managed;
pub mod model;
pub mod policy;
mod store;
#[cfg(test)]
mod tests;

pub use app::{CreatePolicy, CreateRole, Decision, Iam, ListPolicies, Requester};
pub use policy::Context;
