//! Plan-execution proofs in the `m2m-prover` protocol: the commands `plan-hash`, `plan-run`,
//! `plan-prove`, `plan-verify` and `hash-felts`, on top of [`m2m_plan::plan`].
//!
//! Wire conventions (see `m2m_plan` for the details):
//!
//! * Field elements are decimal strings of canonical u64 values (`< 2^64 - 2^32 + 1`).
//! * `stackInputs[0]` is the top of the operand stack at the start; `stackOutputs` (16 strings)
//!   has the top first. Fewer than 16 inputs/outputs are padded with zeros.
//! * A program hash or digest is 64 lowercase hex characters: the four elements in order, each
//!   8 bytes little-endian (`m2m_plan::data::digest_hex`). The program hash is the MAST root of
//!   the assembled program.
//! * Proofs are lowercase hex of the serialized Miden `ExecutionProof` (`proofEncoding: "hex"`),
//!   with `proofHash = "sha256:<hex>"` of the bytes.
//! * A failed coded assertion (`assert.err="EXEC_OVERFLOW: ..."`) fails the command with that code
//!   (exit 1); see [`ErrorCode`] for the `M2M_PLAN_*` codes.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Instant;

use m2m_plan::data::{digest_from_hex, digest_hex, felt};
use m2m_plan::plan::{self as engine, codes, PlanError, PlanRun};
use miden_core::Word;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::encoding::parse_u64_decimal;
use crate::engine::params;
use crate::error::{Error, ErrorCode, Result};
use crate::public_inputs::sha256;

/// Proof type tag of plan-execution proofs.
pub const PROOF_TYPE_PLAN: &str = "m2m.stark.plan.v1";
/// `maxCycles` when a request leaves it out.
pub const DEFAULT_MAX_CYCLES: u32 = 1 << 20;
/// Assembled programs remembered by [`program_hash`] (least recently used first out).
pub const PROGRAM_CACHE_ENTRIES: usize = 32;
/// Longest program-defined error code accepted as a code (longer ones are reported as
/// `M2M_PLAN_EXECUTION_FAILED` with the code in the message).
pub const MAX_PROGRAM_CODE_LEN: usize = 64;
/// Distinct program-defined codes one process reports as codes (each is kept for the life of
/// the process); further ones are reported as `M2M_PLAN_EXECUTION_FAILED`.
pub const MAX_PROGRAM_CODES: usize = 256;

/// A program-defined code as a `&'static str` (interned, bounded by [`MAX_PROGRAM_CODES`]).
fn intern(code: &str) -> Option<&'static str> {
    static CODES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    if code.len() > MAX_PROGRAM_CODE_LEN {
        return None;
    }
    let mut set = CODES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = set.get(code) {
        return Some(found);
    }
    if set.len() >= MAX_PROGRAM_CODES {
        return None;
    }
    let leaked: &'static str = Box::leak(code.to_owned().into_boxed_str());
    set.insert(leaked);
    Some(leaked)
}

/// Maps an `m2m_plan` error to the protocol's error (same code string).
pub fn from_plan_error(e: PlanError) -> Error {
    let code = match e.code.as_str() {
        codes::ASSEMBLY_FAILED => ErrorCode::PlanAssemblyFailed,
        codes::EXECUTION_FAILED => ErrorCode::PlanExecutionFailed,
        codes::CYCLE_LIMIT_EXCEEDED => ErrorCode::PlanCycleLimitExceeded,
        codes::INVALID_INPUT => ErrorCode::PlanInvalidInput,
        codes::PROVING_FAILED => ErrorCode::ProvingFailed,
        codes::INVALID_PROOF_ENCODING => ErrorCode::InvalidProofEncoding,
        codes::UNSUPPORTED_PROOF_HASH => ErrorCode::UnsupportedProofHash,
        codes::VERIFICATION_FAILED => ErrorCode::VerificationFailed,
        other => match intern(other) {
            Some(code) => ErrorCode::Program(code),
            None => {
                return Error::new(
                    ErrorCode::PlanExecutionFailed,
                    format!("{other}: {}", e.message),
                )
            }
        },
    };
    Error::new(code, e.message)
}

/// MAST root of a plan program, remembering the last [`PROGRAM_CACHE_ENTRIES`] programs by the
/// sha256 of their source (assembling takes about 10 ms; a hit takes microseconds).
pub fn program_hash(masm: &str) -> Result<Word> {
    static CACHE: Mutex<Vec<([u8; 32], Word)>> = Mutex::new(Vec::new());
    let key = sha256(masm.as_bytes());
    {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = cache.iter().position(|(k, _)| *k == key) {
            let hit = cache.remove(at);
            let hash = hit.1;
            cache.insert(0, hit);
            return Ok(hash);
        }
    }
    // Assemble outside the lock; errors are not remembered.
    let hash = engine::program_hash(masm).map_err(from_plan_error)?;
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if !cache.iter().any(|(k, _)| *k == key) {
        cache.insert(0, (key, hash));
        cache.truncate(PROGRAM_CACHE_ENTRIES);
    }
    Ok(hash)
}

/// [`program_hash`] as 64 lowercase hex characters.
pub fn program_hash_hex(masm: &str) -> Result<String> {
    Ok(digest_hex(&program_hash(masm)?))
}

/// Parses decimal strings of u64 values (`what[i]` names them in errors).
pub fn parse_values(values: &[String], what: &str) -> Result<Vec<u64>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| parse_u64_decimal(v, ErrorCode::InvalidRequest, &format!("{what}[{i}]")))
        .collect()
}

/// Digest hex of field elements given as decimal strings (`m2m_plan::data::hash_felts`). Only
/// lengths that are multiples of 8 match what `data::load_blob`/`data::hash_memory` compute.
pub fn hash_felts(values: &[String]) -> Result<String> {
    let values = parse_values(values, "values")?;
    let mut felts = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        felts.push(felt(*v).ok_or_else(|| {
            Error::new(
                ErrorCode::PlanInvalidInput,
                format!("values[{i}] = {v} is not a canonical field element (must be < 2^64 - 2^32 + 1)"),
            )
        })?);
    }
    Ok(digest_hex(&m2m_plan::hash_felts(&felts)))
}

/// Verifies a plan proof of the program `masm` (assembled through the [`program_hash`] cache);
/// returns the security level the engine reports.
pub fn verify_masm(
    masm: &str,
    stack_inputs: &[String],
    stack_outputs: &[String],
    proof: &[u8],
) -> Result<u32> {
    let hash = program_hash(masm)?;
    verify_hash(hash, stack_inputs, stack_outputs, proof)
}

/// Verifies a plan proof against a program hash.
pub fn verify_hash(
    program_hash: Word,
    stack_inputs: &[String],
    stack_outputs: &[String],
    proof: &[u8],
) -> Result<u32> {
    let inputs = parse_values(stack_inputs, "stackInputs")?;
    let outputs = parse_values(stack_outputs, "stackOutputs")?;
    engine::verify(program_hash, &inputs, &outputs, proof).map_err(from_plan_error)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct HashRequest {
    masm: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AdviceEntry {
    key: Vec<String>,
    values: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RunRequest {
    masm: String,
    #[serde(default)]
    stack_inputs: Vec<String>,
    #[serde(default)]
    advice_map: Vec<AdviceEntry>,
    #[serde(default)]
    max_cycles: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct VerifyRequest {
    #[serde(default)]
    program_hash: Option<String>,
    #[serde(default)]
    masm: Option<String>,
    #[serde(default)]
    stack_inputs: Vec<String>,
    stack_outputs: Vec<String>,
    proof: String,
    #[serde(default)]
    proof_hash: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct HashFeltsRequest {
    values: Vec<String>,
}

fn plan_run(req: &RunRequest) -> Result<PlanRun> {
    let mut advice_map = Vec::with_capacity(req.advice_map.len());
    for (i, entry) in req.advice_map.iter().enumerate() {
        let key = parse_values(&entry.key, &format!("adviceMap[{i}].key"))?;
        let key: [u64; 4] = key.try_into().map_err(|k: Vec<u64>| {
            Error::new(
                ErrorCode::InvalidRequest,
                format!("adviceMap[{i}].key must hold 4 elements, got {}", k.len()),
            )
        })?;
        let values = parse_values(&entry.values, &format!("adviceMap[{i}].values"))?;
        advice_map.push((key, values));
    }
    Ok(PlanRun {
        masm: req.masm.clone(),
        stack_inputs: parse_values(&req.stack_inputs, "stackInputs")?,
        advice_map,
        max_cycles: req.max_cycles.unwrap_or(DEFAULT_MAX_CYCLES),
    })
}

fn decimal_strings(values: &[u64]) -> Vec<String> {
    values.iter().map(u64::to_string).collect()
}

fn sha256_string(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha256(bytes)))
}

fn conjectured_bits() -> u32 {
    params::CONJECTURED_QUERY_BITS.min(params::HASH_COLLISION_BITS)
}

/// `plan-hash`: `{masm}` → `{programHash}`.
pub(crate) fn handle_hash(req: &HashRequest) -> Result<Value> {
    Ok(json!({ "programHash": digest_hex(&program_hash(&req.masm)?) }))
}

/// `plan-run`: executes without proving.
pub(crate) fn handle_run(req: &RunRequest) -> Result<Value> {
    let start = Instant::now();
    let out = engine::run(&plan_run(req)?).map_err(from_plan_error)?;
    Ok(json!({
        "programHash": digest_hex(&out.program_hash),
        "stackOutputs": decimal_strings(&out.stack_outputs),
        "cycles": out.cycles,
        "traceLength": out.trace_length,
        "traceRows": trace_rows(&out.rows),
        "runTimeMs": (start.elapsed().as_secs_f64() * 1e6).round() / 1000.0,
    }))
}

/// `plan-prove`: executes and proves.
pub(crate) fn handle_prove(req: &RunRequest) -> Result<Value> {
    let out = engine::prove(&plan_run(req)?).map_err(from_plan_error)?;
    Ok(json!({
        "proofType": PROOF_TYPE_PLAN,
        "engine": crate::protocol::ENGINE,
        "engineVersion": crate::protocol::ENGINE_VERSION,
        "programHash": digest_hex(&out.program_hash),
        "stackOutputs": decimal_strings(&out.stack_outputs),
        "proof": hex::encode(&out.proof),
        "proofEncoding": "hex",
        "proofHash": sha256_string(&out.proof),
        "proofSizeBytes": out.proof.len(),
        "cycles": out.cycles,
        "traceLength": out.trace_length,
        "traceRows": trace_rows(&out.rows),
        "provingTimeMs": (out.proving_time_ms * 1000.0).round() / 1000.0,
        "securityBits": params::ENGINE_REPORTED_BITS,
        "conjecturedSecurityBits": conjectured_bits(),
    }))
}

fn trace_rows(rows: &m2m_plan::TraceRows) -> Value {
    json!({
        "main": rows.main,
        "range": rows.range,
        "hash": rows.hash,
        "bitwise": rows.bitwise,
        "memory": rows.memory,
    })
}

fn parse_program_hash(text: &str) -> Result<Word> {
    digest_from_hex(text)
        .map_err(|e| Error::new(ErrorCode::InvalidRequest, format!("programHash: {e}")))
}

/// `plan-verify`: checks a proof against `programHash` and/or `masm` (both given: they must
/// agree).
pub(crate) fn handle_verify(req: &VerifyRequest) -> Result<Value> {
    let start = Instant::now();
    let hash = match (&req.program_hash, &req.masm) {
        (None, None) => {
            return Err(Error::new(
                ErrorCode::InvalidRequest,
                "plan-verify needs programHash or masm",
            ))
        }
        (Some(h), None) => parse_program_hash(h)?,
        (expected, Some(masm)) => {
            let actual = program_hash(masm)?;
            if let Some(e) = expected {
                let e = parse_program_hash(e)?;
                if e != actual {
                    return Err(Error::new(
                        ErrorCode::ProgramIdMismatch,
                        format!(
                            "programHash {} is not the hash of this masm ({})",
                            digest_hex(&e),
                            digest_hex(&actual)
                        ),
                    ));
                }
            }
            actual
        }
    };
    let bytes = hex::decode(&req.proof).map_err(|e| {
        Error::new(
            ErrorCode::InvalidProofEncoding,
            format!("proof must be hex: {e}"),
        )
    })?;
    let proof_hash = sha256_string(&bytes);
    if let Some(expected) = &req.proof_hash {
        if *expected != proof_hash {
            return Err(Error::new(
                ErrorCode::ProofHashMismatch,
                format!("proofHash {expected} does not match the proof bytes ({proof_hash})"),
            ));
        }
    }
    let bits = verify_hash(hash, &req.stack_inputs, &req.stack_outputs, &bytes)?;
    Ok(json!({
        "valid": true,
        "proofType": PROOF_TYPE_PLAN,
        "programHash": digest_hex(&hash),
        "proofHash": proof_hash,
        "proofSizeBytes": bytes.len(),
        "securityBits": bits,
        "conjecturedSecurityBits": conjectured_bits(),
        "verifyTimeMs": (start.elapsed().as_secs_f64() * 1e6).round() / 1000.0,
    }))
}

/// `hash-felts`: `{values}` → `{digest, length}`.
pub(crate) fn handle_hash_felts(req: &HashFeltsRequest) -> Result<Value> {
    Ok(json!({ "digest": hash_felts(&req.values)?, "length": req.values.len() }))
}

/// The `plan` section of `info`.
pub fn info() -> Value {
    let mut sources = String::new();
    for (path, source) in m2m_plan::MODULES {
        sources.push_str(path);
        sources.push('\n');
        sources.push_str(source);
        sources.push('\n');
    }
    json!({
        "proofType": PROOF_TYPE_PLAN,
        "modules": m2m_plan::MODULES.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        "modulesSha256": sha256_string(sources.as_bytes()),
        "maxCycles": engine::MAX_PLAN_CYCLES,
        "defaultMaxCycles": DEFAULT_MAX_CYCLES,
        "digest": "poseidon2 hash_elements; hex = 4 elements x 8 bytes little-endian",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_codes_are_interned_and_bounded() {
        let e = from_plan_error(PlanError::new("EXEC_OVERFLOW", "x"));
        assert_eq!(e.code, ErrorCode::Program("EXEC_OVERFLOW"));
        assert_eq!(e.code.as_str(), "EXEC_OVERFLOW");
        assert_eq!(e.code.exit_code(), 1);
        let long = "A".repeat(MAX_PROGRAM_CODE_LEN + 1);
        let e = from_plan_error(PlanError::new(long.clone(), "x"));
        assert_eq!(e.code, ErrorCode::PlanExecutionFailed);
        assert!(e.message.starts_with(&long));
        let e = from_plan_error(PlanError::new(codes::ASSEMBLY_FAILED, "x"));
        assert_eq!(e.code.as_str(), codes::ASSEMBLY_FAILED);
    }
}
