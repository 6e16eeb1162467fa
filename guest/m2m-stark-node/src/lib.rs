//! Node addon (napi-rs) that verifies m2m-stark compliance proofs inside the node process.
//!
//! Every function takes and returns JSON text and goes through [`m2m_stark::protocol::handle`],
//! so requests and responses are exactly those of the `m2m-prover` child process. Only `info`
//! and the two verify commands are offered: proving stays in the child process, where it can be
//! killed and memory-limited.
//!
//! On failure the function throws a JS `Error` whose `message` is the prover's wire text
//! `{"error":{"code","message"}}` and whose `code` property is the same stable code.
//! Panics are caught in [`dispatch::run`] and never cross the FFI boundary.
//!
//! Plan-execution proofs have typed functions as well: [`plan_program_hash`], [`plan_verify`]
//! (which never throws on a bad proof: it returns `{ valid: false, code, reason }`) and
//! [`hash_felts`]. Assembled programs are cached by the sha256 of their source (32 entries), so
//! verifying many proofs of one plan assembles it once.

#![deny(missing_docs)]

mod dispatch;

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

fn to_js(result: Result<String, dispatch::Failure>) -> napi::Result<String, String> {
    result.map_err(|f| napi::Error::new(f.code.to_owned(), f.json))
}

/// Engine, version, program ids and security parameters (the `info` response) as JSON text.
#[napi]
pub fn info() -> napi::Result<String, String> {
    to_js(dispatch::run("info", ""))
}

/// Verifies one single-event compliance proof (`compliance-verify`); JSON text in and out.
#[napi]
pub fn compliance_verify(request_json: String) -> napi::Result<String, String> {
    to_js(dispatch::run("compliance-verify", &request_json))
}

/// Verifies one batch compliance proof (`compliance-batch-verify`); JSON text in and out.
#[napi]
pub fn compliance_batch_verify(request_json: String) -> napi::Result<String, String> {
    to_js(dispatch::run("compliance-batch-verify", &request_json))
}

/// Runs `command` if it may run in process (`info`, `compliance-verify`,
/// `compliance-batch-verify`); any other command, proving included, fails with
/// `UNKNOWN_COMMAND`.
#[napi]
pub fn call(command: String, request_json: String) -> napi::Result<String, String> {
    to_js(dispatch::run(&command, &request_json))
}

/// The commands this addon runs in process.
#[napi]
pub fn commands() -> Vec<String> {
    dispatch::IN_PROCESS_COMMANDS
        .iter()
        .map(|c| (*c).to_owned())
        .collect()
}

/// The MAST root (program hash) of a plan program, as 64 lowercase hex characters (4 elements,
/// 8 bytes little-endian each). Throws `M2M_PLAN_ASSEMBLY_FAILED` with the assembler's
/// diagnostics when the source does not assemble.
#[napi]
pub fn plan_program_hash(masm: String) -> napi::Result<String, String> {
    to_js(dispatch::guard_value("plan-hash", || {
        m2m_stark::plan::program_hash_hex(&masm)
    }))
}

/// Result of [`plan_verify`].
#[napi(object)]
pub struct PlanVerifyResult {
    /// Whether the proof verifies against the program and the stack inputs/outputs.
    pub valid: bool,
    /// Security level the engine reports, when valid.
    pub security_bits: Option<u32>,
    /// Stable error code, when not valid (e.g. `VERIFICATION_FAILED`,
    /// `INVALID_PROOF_ENCODING`, `M2M_PLAN_ASSEMBLY_FAILED`, `INVALID_REQUEST`).
    pub code: Option<String>,
    /// Why the proof was rejected, when not valid.
    pub reason: Option<String>,
}

/// Verifies a plan proof: assembles `masm` (cached), takes its MAST root as the program hash and
/// checks the proof against the stack inputs and outputs (decimal strings of canonical field
/// elements, top of the stack first). Never throws on a bad proof or bad input; only an internal
/// panic throws (`INTERNAL_ERROR`).
#[napi]
pub fn plan_verify(
    masm: String,
    stack_inputs: Vec<String>,
    stack_outputs: Vec<String>,
    proof: Buffer,
) -> napi::Result<PlanVerifyResult, String> {
    let outcome = dispatch::guard_value("plan-verify", || {
        Ok(m2m_stark::plan::verify_masm(
            &masm,
            &stack_inputs,
            &stack_outputs,
            &proof,
        ))
    });
    match outcome {
        Ok(Ok(bits)) => Ok(PlanVerifyResult {
            valid: true,
            security_bits: Some(bits),
            code: None,
            reason: None,
        }),
        Ok(Err(e)) => Ok(PlanVerifyResult {
            valid: false,
            security_bits: None,
            code: Some(e.code.as_str().to_owned()),
            reason: Some(e.message),
        }),
        Err(f) => Err(napi::Error::new(f.code.to_owned(), f.json)),
    }
}

/// Digest of field elements (decimal strings of canonical values) as `m2m::plan::data` computes
/// it for a blob (Poseidon2 `hash_elements`; the VM only hashes lengths that are multiples of
/// 8), as 64 lowercase hex characters. Throws `INVALID_REQUEST` / `M2M_PLAN_INVALID_INPUT` for a
/// malformed or non-canonical value.
#[napi]
pub fn hash_felts(values: Vec<String>) -> napi::Result<String, String> {
    to_js(dispatch::guard_value("hash-felts", || {
        m2m_stark::plan::hash_felts(&values)
    }))
}
