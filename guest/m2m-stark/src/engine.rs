//! Thin wrapper over the Miden VM prover and verifier: fixed proof options, typed errors.

use std::time::Instant;

use miden_core::{Felt, Word};
use miden_vm::{
    advice::AdviceInputs, DefaultHost, ExecutionError, ExecutionOptions, ExecutionProof,
    FastProcessor, HashFunction, Program, ProgramInfo, StackInputs, StackOutputs,
};

use crate::error::{Error, ErrorCode, Result};

/// The only hash function accepted for STARK commitments (Merkle trees and Fiat-Shamir).
/// BLAKE3 is the fastest of Miden's options natively; the VM-native Poseidon2 is only
/// needed if proofs are to be verified recursively inside the VM.
pub const PROOF_HASH: HashFunction = HashFunction::Blake3_256;

/// Security parameters of Miden VM 0.23.5 (fixed in `miden-air`'s `config.rs`; the prover and
/// verifier both use them, a proof cannot choose weaker ones).
pub mod params {
    /// log2 of the FRI blowup factor (blowup 8).
    pub const LOG_BLOWUP: u32 = 3;
    /// FRI query repetitions.
    pub const NUM_QUERIES: u32 = 27;
    /// Proof-of-work bits ground before the query phase.
    pub const QUERY_POW_BITS: u32 = 16;
    /// Conjectured soundness of the query phase: queries x log2(blowup) + grinding bits.
    pub const CONJECTURED_QUERY_BITS: u32 = NUM_QUERIES * LOG_BLOWUP + QUERY_POW_BITS;
    /// Collision resistance of BLAKE3-256 commitments, bits.
    pub const HASH_COLLISION_BITS: u32 = 128;
    /// Security level the engine reports for every proof (`ExecutionProof::security_level`).
    pub const ENGINE_REPORTED_BITS: u32 = 96;
}

/// Maximum VM cycles for any program run by this crate.
pub const MAX_CYCLES: u32 = 1 << 22;

/// A produced proof and how long it took.
#[derive(Debug, Clone)]
pub struct EngineProof {
    /// Serialized `ExecutionProof` (`ExecutionProof::to_bytes`).
    pub bytes: Vec<u8>,
    /// Wall time of execution plus proving, milliseconds.
    pub proving_time_ms: f64,
    /// Main-trace length (VM cycles).
    pub cycles: usize,
    /// Padded trace length (rows the STARK commits to).
    pub trace_length: usize,
}

fn felts(values: &[Felt], what: &str) -> Result<StackInputs> {
    StackInputs::new(values).map_err(|e| {
        Error::new(
            ErrorCode::Internal,
            format!("{what}: invalid stack inputs: {e}"),
        )
    })
}

fn execution_error(e: ExecutionError) -> Error {
    match e {
        ExecutionError::ProvingError(m) => Error::new(
            ErrorCode::ProvingFailed,
            format!("the STARK prover failed: {m}"),
        ),
        ExecutionError::CycleLimitExceeded(n) => Error::new(
            ErrorCode::ProvingFailed,
            format!("the program exceeded the cycle limit of {n}; use a smaller batch"),
        ),
        other => Error::new(
            ErrorCode::ExecutionFailed,
            format!("the zkVM rejected the statement, so no proof exists: {other}"),
        ),
    }
}

/// Executes `program` on the given public stack inputs and private advice and proves it.
pub fn prove(program: &Program, stack_inputs: &[Felt], advice: Vec<Felt>) -> Result<EngineProof> {
    let options = ExecutionOptions::new(Some(MAX_CYCLES), 64, 4096, false, false)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("execution options: {e}")))?;
    let start = Instant::now();
    let processor = FastProcessor::new_with_options(
        felts(stack_inputs, "prove")?,
        AdviceInputs::default().with_stack(advice),
        options,
    )
    .map_err(ExecutionError::advice_error_no_context)
    .map_err(execution_error)?;
    let trace_inputs = processor
        .execute_trace_inputs_sync(program, &mut DefaultHost::default())
        .map_err(execution_error)?;
    let trace = miden_vm::trace::build_trace(trace_inputs).map_err(execution_error)?;
    let proved = m2m_plan::prove_trace(trace).map_err(execution_error)?;
    Ok(EngineProof {
        bytes: proved.proof.to_bytes(),
        proving_time_ms: start.elapsed().as_secs_f64() * 1000.0,
        cycles: proved.cycles,
        trace_length: proved.trace_length,
    })
}

/// Verifies serialized proof bytes against a program hash and public stack inputs/outputs.
/// Returns the security level the engine reports.
pub fn verify(
    program_hash: Word,
    stack_inputs: &[Felt],
    stack_outputs: &[Felt],
    proof_bytes: &[u8],
) -> Result<u32> {
    let proof = ExecutionProof::from_bytes(proof_bytes).map_err(|e| {
        Error::new(
            ErrorCode::InvalidProofEncoding,
            format!("the proof bytes do not decode: {e}"),
        )
    })?;
    if proof.to_bytes() != proof_bytes {
        return Err(Error::new(
            ErrorCode::InvalidProofEncoding,
            "the proof bytes are not in canonical encoding (trailing or re-encoded bytes)",
        ));
    }
    if proof.hash_fn() != PROOF_HASH {
        return Err(Error::new(
            ErrorCode::UnsupportedProofHash,
            format!(
                "the proof uses {:?}; this verifier accepts only {PROOF_HASH:?}",
                proof.hash_fn()
            ),
        ));
    }
    if !proof.precompile_requests().is_empty() {
        return Err(Error::new(
            ErrorCode::VerificationFailed,
            "the proof carries precompile requests, which these programs never make",
        ));
    }
    let outputs = StackOutputs::new(stack_outputs)
        .map_err(|e| Error::new(ErrorCode::Internal, format!("invalid stack outputs: {e}")))?;
    let info = ProgramInfo::new(program_hash, Default::default());
    // `miden_verifier::verify` with no precompile verifiers: `miden_vm::verify` would first load
    // the whole core library to build a registry these programs never need (~20 ms per process).
    miden_verifier::verify(info, felts(stack_inputs, "verify")?, outputs, proof).map_err(|e| {
        Error::new(
            ErrorCode::VerificationFailed,
            format!("the STARK proof does not verify against this statement: {e}"),
        )
    })
}
