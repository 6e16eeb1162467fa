//! Assembling, running, proving and verifying arbitrary plan programs (MASM text that may
//! `use m2m::plan::fixed`, `m2m::plan::str`, `m2m::plan::data` and the Miden core library).
//!
//! * [`program_hash`]: the MAST root of the assembled program (the value a verifier checks).
//! * [`run`]: executes and builds the trace (for the cycle count) without proving.
//! * [`prove`]: executes and proves (BLAKE3 commitments, as `m2m-stark`).
//! * [`verify`]: checks a proof against a program hash and the public stack inputs/outputs.
//!
//! **Stack order**: `stack_inputs[0]` is the top of the operand stack when the program starts
//! (Miden 0.23 `StackInputs::new`), and `stack_outputs[0]` is the top at the end. Both are padded
//! with zeros to 16 elements, so `[a]` and `[a, 0]` are the same public inputs.
//!
//! **Advice map**: `advice_map` entries `(key, values)` are looked up by `data::load_blob` with
//! the key word `[K0, K1, K2, K3]` pushed so that K0 is on top of the stack.
//!
//! **Errors** ([`PlanError`]): an assertion whose message starts with `CODE:` (CODE matching
//! `^[A-Z][A-Z0-9_]+$`, e.g. `assert.err="EXEC_OVERFLOW: ..."`) fails with that code and the text
//! after the colon as the message; see [`codes`] for the others.

use std::time::Instant;

use miden_core::{Felt, Word};
use miden_processor::operation::OperationError;
use miden_vm::{
    advice::AdviceInputs, ExecutionError, ExecutionOptions, ExecutionProof, FastProcessor, Program,
    ProgramInfo, StackInputs, StackOutputs,
};

use crate::data::felt;
use crate::{assembler, host, PROOF_HASH};

/// Error codes of this module (program-defined codes come from assertion messages).
pub mod codes {
    /// The MASM text does not parse or assemble.
    pub const ASSEMBLY_FAILED: &str = "M2M_PLAN_ASSEMBLY_FAILED";
    /// Execution failed for a reason other than a coded assertion (an uncoded assertion, a
    /// missing advice-map key, a memory or u32 error, ...).
    pub const EXECUTION_FAILED: &str = "M2M_PLAN_EXECUTION_FAILED";
    /// The program ran past `max_cycles`, or its trace (with chiplets) past [`super::MAX_TRACE_ROWS`].
    pub const CYCLE_LIMIT_EXCEEDED: &str = "M2M_PLAN_CYCLE_LIMIT_EXCEEDED";
    /// Bad stack inputs/outputs, advice values or limits (non-canonical element, more than 16
    /// stack elements, `max_cycles` out of range, advice map too large).
    pub const INVALID_INPUT: &str = "M2M_PLAN_INVALID_INPUT";
    /// The STARK prover failed on a valid execution.
    pub const PROVING_FAILED: &str = "M2M_PLAN_PROVING_FAILED";
    /// The proof bytes do not decode, or are not in canonical encoding (as in `m2m-stark`).
    pub const INVALID_PROOF_ENCODING: &str = "INVALID_PROOF_ENCODING";
    /// The proof uses another hash function than BLAKE3 (as in `m2m-stark`).
    pub const UNSUPPORTED_PROOF_HASH: &str = "UNSUPPORTED_PROOF_HASH";
    /// The proof does not verify against the statement (as in `m2m-stark`).
    pub const VERIFICATION_FAILED: &str = "VERIFICATION_FAILED";
}

/// Largest accepted `max_cycles`.
pub const MAX_PLAN_CYCLES: u32 = 1 << 24;
/// Cap on the execution trace before padding, chiplets included (the hasher chiplet takes 16
/// rows per permutation, so a hash-heavy program has more chiplet rows than cycles).
pub const MAX_TRACE_ROWS: usize = 1 << 25;
/// Cap on the whole advice map (keys and values, field elements). One blob is further limited
/// by the advice stack to 2^17 elements.
pub const MAX_ADVICE_ELEMENTS: usize = 1 << 24;

/// A failure with a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    /// `M2M_PLAN_*`, a proof code, or the code of a failed coded assertion.
    pub code: String,
    /// What happened.
    pub message: String,
}

impl PlanError {
    /// An error with the given code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for PlanError {}

/// One program run: source, public stack inputs, private advice map, cycle limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanRun {
    /// MASM program text (`begin ... end`).
    pub masm: String,
    /// Public stack inputs, canonical field elements; `stack_inputs[0]` is the top. At most 16.
    pub stack_inputs: Vec<u64>,
    /// Private advice map: `(key word [K0..K3], values)`.
    pub advice_map: Vec<([u64; 4], Vec<u64>)>,
    /// Cycle limit, 1..=[`MAX_PLAN_CYCLES`] (values below the VM's minimum of 64 are raised).
    pub max_cycles: u32,
}

/// Result of [`run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    /// The 16 output stack elements, top first.
    pub stack_outputs: Vec<u64>,
    /// Main-trace length (VM cycles, with the final HALT row).
    pub cycles: usize,
    /// Padded trace length (power of two, chiplets included): what proving costs.
    pub trace_length: usize,
    /// Unpadded rows of each trace part (see [`TraceRows`] for how they set `trace_length`).
    pub rows: TraceRows,
    /// MAST root of the program.
    pub program_hash: Word,
}

/// Unpadded row counts of the trace parts. The chiplets share one segment, so the padded length
/// is the next power of two of max(main, range, hash + bitwise + memory + 1) (kernel ROM and ACE
/// rows, unused by plan programs, add to the chiplets too). Tells whether a program is bound by
/// its cycles or by its chiplets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceRows {
    /// Main trace (VM cycles).
    pub main: usize,
    /// Range-checker table.
    pub range: usize,
    /// Hash chiplet (basic blocks entered, control flow, hashing instructions).
    pub hash: usize,
    /// Bitwise chiplet (`u32and`, `u32xor`, ...).
    pub bitwise: usize,
    /// Memory chiplet (one row per memory access).
    pub memory: usize,
}

impl TraceRows {
    fn of(summary: &miden_vm::trace::TraceLenSummary) -> Self {
        let chiplets = summary.chiplets_trace_len();
        Self {
            main: summary.main_trace_len(),
            range: summary.range_trace_len(),
            hash: chiplets.hash_chiplet_len(),
            bitwise: chiplets.bitwise_chiplet_len(),
            memory: chiplets.memory_chiplet_len(),
        }
    }
}

/// Result of [`prove`].
#[derive(Debug, Clone, PartialEq)]
pub struct ProveOutput {
    /// The 16 output stack elements, top first.
    pub stack_outputs: Vec<u64>,
    /// Serialized `ExecutionProof`.
    pub proof: Vec<u8>,
    /// MAST root of the program.
    pub program_hash: Word,
    /// Main-trace length (VM cycles).
    pub cycles: usize,
    /// Padded trace length.
    pub trace_length: usize,
    /// Unpadded rows of each trace part.
    pub rows: TraceRows,
    /// Wall time of execution, trace building and proving, milliseconds.
    pub proving_time_ms: f64,
}

/// Assembles a plan program with [`assembler`].
pub fn assemble(masm: &str) -> Result<Program, PlanError> {
    let assembler =
        assembler().map_err(|e| PlanError::new(codes::ASSEMBLY_FAILED, e.to_string()))?;
    let program = assembler.assemble_program(masm).map_err(|report| {
        let text = miden_vm::diagnostics::reporting::PrintDiagnostic::new_without_color(report)
            .to_string();
        PlanError::new(codes::ASSEMBLY_FAILED, text.trim_end().to_owned())
    })?;
    crate::with_runtime_error_messages(program)
        .map_err(|e| PlanError::new(codes::ASSEMBLY_FAILED, e.to_string()))
}

/// MAST root of a plan program.
pub fn program_hash(masm: &str) -> Result<Word, PlanError> {
    Ok(assemble(masm)?.hash())
}

fn invalid(message: impl Into<String>) -> PlanError {
    PlanError::new(codes::INVALID_INPUT, message)
}

fn felts(values: &[u64], what: &str) -> Result<Vec<Felt>, PlanError> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            felt(*v).ok_or_else(|| {
                invalid(format!(
                    "{what}[{i}] = {v} is not a canonical field element (must be < 2^64 - 2^32 + 1)"
                ))
            })
        })
        .collect()
}

/// Stack inputs from canonical u64 values (at most 16, first = top).
pub fn stack_inputs(values: &[u64]) -> Result<StackInputs, PlanError> {
    StackInputs::new(&felts(values, "stackInputs")?)
        .map_err(|e| invalid(format!("stackInputs: {e}")))
}

/// Stack outputs from canonical u64 values (at most 16, first = top).
pub fn stack_outputs(values: &[u64]) -> Result<StackOutputs, PlanError> {
    StackOutputs::new(&felts(values, "stackOutputs")?)
        .map_err(|e| invalid(format!("stackOutputs: {e}")))
}

fn advice_inputs(map: &[([u64; 4], Vec<u64>)]) -> Result<AdviceInputs, PlanError> {
    let total = map
        .iter()
        .map(|(_, v)| v.len().saturating_add(4))
        .fold(0usize, usize::saturating_add);
    if total > MAX_ADVICE_ELEMENTS {
        return Err(invalid(format!(
            "adviceMap holds {total} elements (keys included), more than {MAX_ADVICE_ELEMENTS}"
        )));
    }
    let mut entries = std::collections::BTreeMap::new();
    for (i, (key, values)) in map.iter().enumerate() {
        let k = felts(key, &format!("adviceMap[{i}].key"))?;
        let key = Word::new([k[0], k[1], k[2], k[3]]);
        let values = felts(values, &format!("adviceMap[{i}].values"))?;
        if entries.insert(key, values).is_some() {
            return Err(invalid(format!(
                "adviceMap has the key {} twice",
                crate::data::digest_hex(&key)
            )));
        }
    }
    Ok(AdviceInputs::default().with_map(entries))
}

fn options(max_cycles: u32) -> Result<ExecutionOptions, PlanError> {
    if max_cycles == 0 || max_cycles > MAX_PLAN_CYCLES {
        return Err(invalid(format!(
            "maxCycles must be 1..={MAX_PLAN_CYCLES}, got {max_cycles}"
        )));
    }
    let max_cycles = max_cycles.max(64);
    ExecutionOptions::new(Some(max_cycles), 64, 4096, false, false)
        .map(|o| o.with_max_adv_map_elements(MAX_ADVICE_ELEMENTS))
        .map_err(|e| invalid(format!("execution options: {e}")))
}

/// The error code a failed assertion message carries: the text before the first `:` when it
/// matches `^[A-Z][A-Z0-9_]+$`.
pub fn assertion_code(message: &str) -> Option<&str> {
    let (code, _) = message.split_once(':')?;
    let mut bytes = code.bytes();
    let first = bytes.next()?;
    (first.is_ascii_uppercase()
        && code.len() >= 2
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
    .then_some(code)
}

/// Maps a VM failure to a [`PlanError`].
pub fn execution_error(e: &ExecutionError) -> PlanError {
    let coded = |msg: &str| {
        assertion_code(msg).map(|code| {
            let rest = msg[code.len() + 1..].trim();
            PlanError::new(code, rest)
        })
    };
    match e {
        ExecutionError::OperationError { err, .. } => {
            let msg = match err {
                OperationError::FailedAssertion {
                    err_msg: Some(m), ..
                }
                | OperationError::U32AssertionFailed {
                    err_msg: Some(m), ..
                } => Some(m.clone()),
                OperationError::MerklePathVerificationFailed { inner } => inner.err_msg.clone(),
                _ => None,
            };
            if let Some(found) = msg.as_deref().and_then(coded) {
                return found;
            }
            PlanError::new(codes::EXECUTION_FAILED, e.to_string())
        }
        ExecutionError::CycleLimitExceeded(n) => PlanError::new(
            codes::CYCLE_LIMIT_EXCEEDED,
            format!(
                "the program ran past its cycle limit of {n}; raise maxCycles or split the work"
            ),
        ),
        ExecutionError::TraceLenExceeded(n) => PlanError::new(
            codes::CYCLE_LIMIT_EXCEEDED,
            format!("the execution trace (chiplets included) exceeds {n} rows"),
        ),
        ExecutionError::ProvingError(m) => PlanError::new(
            codes::PROVING_FAILED,
            format!("the STARK prover failed: {m}"),
        ),
        other => PlanError::new(codes::EXECUTION_FAILED, other.to_string()),
    }
}

fn canonical(values: impl IntoIterator<Item = Felt>) -> Vec<u64> {
    values.into_iter().map(|f| f.as_canonical_u64()).collect()
}

struct Traced {
    trace: miden_vm::ExecutionTrace,
    program_hash: Word,
}

/// The assembled program and a processor loaded with the request's inputs and advice.
fn load(req: &PlanRun, options: ExecutionOptions) -> Result<(Program, FastProcessor), PlanError> {
    let inputs = stack_inputs(&req.stack_inputs)?;
    let advice = advice_inputs(&req.advice_map)?;
    let program = assemble(&req.masm)?;
    let processor = FastProcessor::new_with_options(inputs, advice, options)
        .map_err(|e| invalid(format!("advice inputs: {e}")))?;
    Ok((program, processor))
}

fn execute_and_trace(req: &PlanRun) -> Result<Traced, PlanError> {
    let (program, processor) = load(req, options(req.max_cycles)?)?;
    let trace_inputs = processor
        .execute_trace_inputs_sync(&program, &mut host())
        .map_err(|e| execution_error(&e))?;
    let trace = miden_vm::trace::build_trace_with_max_len(trace_inputs, MAX_TRACE_ROWS)
        .map_err(|e| execution_error(&e))?;
    Ok(Traced {
        trace,
        program_hash: program.hash(),
    })
}

/// Executes a plan program (no proof) and measures its trace.
pub fn run(req: &PlanRun) -> Result<RunOutput, PlanError> {
    let Traced {
        trace,
        program_hash,
    } = execute_and_trace(req)?;
    let summary = trace.trace_len_summary();
    Ok(RunOutput {
        stack_outputs: canonical(trace.stack_outputs().iter().copied()),
        cycles: summary.main_trace_len(),
        trace_length: summary.padded_trace_len(),
        rows: TraceRows::of(summary),
        program_hash,
    })
}

/// Executes and proves a plan program.
///
/// Same steps as `miden_prover::prove_sync` with BLAKE3 commitments (that function hides the
/// trace, whose length we report).
pub fn prove(req: &PlanRun) -> Result<ProveOutput, PlanError> {
    let start = Instant::now();
    let Traced {
        trace,
        program_hash,
    } = execute_and_trace(req)?;
    if !trace.precompile_requests().is_empty() {
        return Err(PlanError::new(
            codes::EXECUTION_FAILED,
            "the program made precompile requests (e.g. keccak256/sha512/signature precompiles), \
             which plan proofs do not accept",
        ));
    }
    let rows = TraceRows::of(trace.trace_len_summary());
    let proved = crate::prove_trace(trace).map_err(|e| execution_error(&e))?;
    Ok(ProveOutput {
        stack_outputs: canonical(proved.stack_outputs.iter().copied()),
        proof: proved.proof.to_bytes(),
        program_hash,
        cycles: proved.cycles,
        trace_length: proved.trace_length,
        rows,
        proving_time_ms: start.elapsed().as_secs_f64() * 1000.0,
    })
}

/// Verifies a plan proof; returns the security level the engine reports (96 bits conjectured
/// for the queries, see `m2m-stark`'s `engine::params`).
///
/// Rejects (as `m2m-stark` does) proof bytes that are not in canonical encoding, proofs with
/// another hash function than BLAKE3, and proofs carrying precompile requests.
pub fn verify(
    program_hash: Word,
    stack_inputs_u64: &[u64],
    stack_outputs_u64: &[u64],
    proof: &[u8],
) -> Result<u32, PlanError> {
    let inputs = stack_inputs(stack_inputs_u64)?;
    let outputs = stack_outputs(stack_outputs_u64)?;
    let decoded = ExecutionProof::from_bytes(proof).map_err(|e| {
        PlanError::new(
            codes::INVALID_PROOF_ENCODING,
            format!("the proof bytes do not decode: {e}"),
        )
    })?;
    if decoded.to_bytes() != proof {
        return Err(PlanError::new(
            codes::INVALID_PROOF_ENCODING,
            "the proof bytes are not in canonical encoding (trailing or re-encoded bytes)",
        ));
    }
    if decoded.hash_fn() != PROOF_HASH {
        return Err(PlanError::new(
            codes::UNSUPPORTED_PROOF_HASH,
            format!(
                "the proof uses {:?}; this verifier accepts only {PROOF_HASH:?}",
                decoded.hash_fn()
            ),
        ));
    }
    if !decoded.precompile_requests().is_empty() {
        return Err(PlanError::new(
            codes::VERIFICATION_FAILED,
            "the proof carries precompile requests, which plan programs may not make",
        ));
    }
    miden_verifier::verify(
        ProgramInfo::new(program_hash, Default::default()),
        inputs,
        outputs,
        decoded,
    )
    .map_err(|e| {
        PlanError::new(
            codes::VERIFICATION_FAILED,
            format!("the STARK proof does not verify against this statement: {e}"),
        )
    })
}

/// Cycles spent between `trace.N` markers, for finding where a plan program's cycles go.
///
/// Marker ids come in pairs: an even id `2k` opens region `k`, the odd id `2k + 1` closes it.
/// A close pairs with the latest open of the same region; each region gets its inclusive
/// cycles and the number of times it was entered.
/// Markers are decorators: they change neither the MAST root nor the cycle count.
pub fn profile(req: &PlanRun) -> Result<std::collections::BTreeMap<u32, (u64, u64)>, PlanError> {
    use miden_processor::{DebugHandler, ProcessorState, TraceError};

    #[derive(Default)]
    struct Regions {
        open: Vec<(u32, u64)>,
        totals: std::collections::BTreeMap<u32, (u64, u64)>,
    }
    impl DebugHandler for Regions {
        fn on_trace(&mut self, process: &ProcessorState, id: u32) -> Result<(), TraceError> {
            let clock = u64::from(u32::from(process.clock()));
            if id.is_multiple_of(2) {
                self.open.push((id / 2, clock));
            } else if let Some(at) = self.open.iter().rposition(|(region, _)| *region == id / 2) {
                let (region, start) = self.open.remove(at);
                let entry = self.totals.entry(region).or_default();
                entry.0 += clock - start;
                entry.1 += 1;
            }
            Ok(())
        }
    }

    let (program, processor) = load(req, options(req.max_cycles)?.with_tracing(true))?;
    let mut host = host().with_debug_handler(Regions::default());
    processor
        .execute_sync(&program, &mut host)
        .map_err(|e| execution_error(&e))?;
    Ok(host.debug_handler().totals.clone())
}

#[cfg(test)]
mod tests {
    use super::assertion_code;

    #[test]
    fn assertion_codes() {
        assert_eq!(assertion_code("EXEC_OVERFLOW: x"), Some("EXEC_OVERFLOW"));
        assert_eq!(
            assertion_code("M2M_PLAN_BAD_HINT:y"),
            Some("M2M_PLAN_BAD_HINT")
        );
        assert_eq!(assertion_code("E2: y"), Some("E2"));
        for bad in [
            "E: x",
            "exec_overflow: x",
            "EXEC OVERFLOW: x",
            "_A: x",
            "no colon",
            "",
        ] {
            assert_eq!(assertion_code(bad), None, "{bad}");
        }
    }
}
