//! Native STARK compliance proofs for the m2m node, on Miden VM.
//!
//! * [`compliance`]: single-event statements (`aml.threshold`, `order_total.cap`).
//! * [`batch`]: one proof over N events.
//! * [`plan`]: plan-execution proofs (arbitrary plan programs, `m2m-plan`).
//! * [`protocol`]: the JSON protocol of the `m2m-prover` child process.
//!
//! The proof system is Miden VM's (transparent STARK over the Goldilocks field); this crate
//! only writes Miden assembly programs and binds the public inputs to them.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod batch;
pub mod compliance;
pub mod encoding;
pub mod engine;
pub mod error;
pub mod plan;
pub mod policy;
pub mod programs;
pub mod protocol;
pub mod public_inputs;

pub use error::{Error, ErrorCode, Result};
pub use policy::Policy;
