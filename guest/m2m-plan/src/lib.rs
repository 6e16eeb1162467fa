//! The plan numeric model (fixed-point i64 mantissa, scale 10^6) as a Miden assembly library,
//! the first building block of plan-execution proofs (see `../PLAN_PROOFS.md`).
//!
//! * [`FIXED_MASM`] is the library source (`asm/fixed.masm`), module [`FIXED_MODULE`].
//! * [`assembler`] gives an assembler with the Miden core library and this module linked, so a
//!   program can `use m2m::plan::fixed` and `exec.fixed::mul`.
//! * [`execute`], [`prove`], [`verify`] and [`cycles`] run programs that use it.
//! * [`fixed`] is the plain Rust reference of the same model (plain i64/i128 arithmetic).
//! * [`data`]: the digest of `m2m::plan::data` blobs in Rust ([`data::hash_felts`]) and its hex
//!   form ([`data::digest_hex`]).
//! * [`plan`]: assemble, run, prove and verify arbitrary plan programs ([`PlanRun`]) with typed
//!   error codes ([`PlanError`]).

pub mod data;
pub mod fixed;
pub mod plan;
pub mod transcript;

pub use data::{digest_from_hex, digest_hex, hash_felts, hash_u64s};
pub use plan::{PlanError, PlanRun, ProveOutput, RunOutput, TraceRows};

use std::sync::{Arc, OnceLock};

use miden_core::{Felt, Word};
use miden_core_lib::CoreLibrary;
use miden_vm::{
    advice::AdviceInputs,
    assembly::{ast::ModuleKind, DefaultSourceManager, Library, ModuleParser},
    Assembler, DefaultHost, ExecutionError, ExecutionOptions, ExecutionProof, FastProcessor,
    HashFunction, Program, ProgramInfo, ProvingOptions, StackInputs, StackOutputs, SyncHost,
};

use crate::fixed::NumError;

/// Source of the library.
pub const FIXED_MASM: &str = include_str!("../asm/fixed.masm");
/// Module path of the library.
pub const FIXED_MODULE: &str = "m2m::plan::fixed";
/// Hash function of the STARK commitments (as in `m2m-stark`).
pub const PROOF_HASH: HashFunction = HashFunction::Blake3_256;
/// Cycle limit for programs run by this crate.
pub const MAX_CYCLES: u32 = 1 << 22;

/// Why running a program failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
    /// The program failed with one of the numeric model's error classes.
    Numeric(NumError),
    /// Any other failure (assembly, a different assertion, proving).
    Other(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Numeric(e) => write!(f, "numeric error {e}"),
            RunError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for RunError {}

/// Maps a VM failure to its error class: every assertion of `fixed.masm` carries a message that
/// starts with the class's code.
fn classify(e: &ExecutionError) -> RunError {
    let text = format!("{e} {e:?}");
    for class in [
        NumError::Overflow,
        NumError::DivisionByZero,
        NumError::InvalidArgument,
    ] {
        if text.contains(&format!("{}:", class.code())) {
            return RunError::Numeric(class);
        }
    }
    RunError::Other(format!("execution failed: {e}"))
}

/// The Miden assembly modules of this crate: `(module path, source)`, linked in this order.
pub const MODULES: [(&str, &str); 4] = [
    (FIXED_MODULE, FIXED_MASM),
    ("m2m::plan::str", include_str!("../asm/str.masm")),
    ("m2m::plan::data", include_str!("../asm/data.masm")),
    ("m2m::plan::text", include_str!("../asm/text.masm")),
];

/// The modules of [`MODULES`] assembled into one library, with the procedures of the Miden core
/// library they use linked in statically. Built once per process: assembling a plan program
/// against it takes about 7 ms, against the whole core library about 30 ms (the assembler copies
/// every static library's MAST forest into each program before pruning it). The MAST roots are
/// the same either way (tested in `tests/program_hash.rs`).
fn runtime_library() -> Result<Arc<Library>, RunError> {
    static LIBRARY: OnceLock<Result<Arc<Library>, String>> = OnceLock::new();
    LIBRARY
        .get_or_init(|| {
            let source_manager = Arc::new(DefaultSourceManager::default());
            let modules = MODULES
                .iter()
                .map(|(path, source)| {
                    ModuleParser::new(ModuleKind::Library)
                        .parse_str(*path, *source, source_manager.clone())
                        .map_err(|e| format!("parsing {path}: {e:?}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Assembler::new(source_manager)
                .with_static_library(CoreLibrary::default())
                .map_err(|e| format!("linking the core library: {e}"))?
                .assemble_library(modules)
                .map_err(|e| format!("compiling the m2m::plan modules: {e:?}"))
        })
        .clone()
        .map_err(RunError::Other)
}

/// An assembler with every module of [`MODULES`] (`m2m::plan::fixed`, `str`, `data` and
/// `text`) statically linked. Programs reach the Miden core library only through them.
pub fn assembler() -> Result<Assembler, RunError> {
    Assembler::new(Arc::new(DefaultSourceManager::default()))
        .with_static_library(runtime_library()?)
        .map_err(|e| RunError::Other(format!("linking the m2m::plan library: {e}")))
}

/// Assembles a program that may `use m2m::plan::fixed`.
pub fn assemble_program(source: &str) -> Result<Program, RunError> {
    let program = assembler()?
        .assemble_program(source)
        .map_err(|e| RunError::Other(format!("assembling the program: {e:?}")))?;
    with_runtime_error_messages(program)
}

/// The program with the assertion messages of the runtime library in its MAST forest. Merging a
/// static library keeps its nodes but not its debug information, where the messages live; the
/// error codes of this crate are read from the messages, so they are put back. Messages are debug
/// information only: the MAST root does not change.
pub fn with_runtime_error_messages(program: Program) -> Result<Program, RunError> {
    let library = runtime_library()?;
    let mut forest = (**program.mast_forest()).clone();
    for (_, message) in library.mast_forest().debug_info().error_codes() {
        forest.register_error(message.clone());
    }
    Ok(Program::with_kernel(
        Arc::new(forest),
        program.entrypoint(),
        program.kernel().clone(),
    ))
}

/// A host with the core library's MAST and event handlers (the u64/u128 division hints).
pub fn host() -> DefaultHost {
    DefaultHost::default()
        .with_library(&CoreLibrary::default())
        .expect("the core library loads into a fresh host")
}

fn options() -> ExecutionOptions {
    ExecutionOptions::new(Some(MAX_CYCLES), 64, 4096, false, false)
        .expect("valid execution options")
}

fn stack_inputs(inputs: &[Felt]) -> Result<StackInputs, RunError> {
    StackInputs::new(inputs).map_err(|e| RunError::Other(format!("stack inputs: {e}")))
}

/// Encodes an i64 as its stack limbs `[lo, hi]` (two's complement, `lo` on top).
pub fn encode(x: i64) -> [Felt; 2] {
    let u = x as u64;
    [Felt::from_u32(u as u32), Felt::from_u32((u >> 32) as u32)]
}

/// Decodes stack limbs `[lo, hi]`; `None` if a limb is not a u32.
pub fn decode(lo: Felt, hi: Felt) -> Option<i64> {
    let (lo, hi) = (lo.as_canonical_u64(), hi.as_canonical_u64());
    (lo <= u64::from(u32::MAX) && hi <= u64::from(u32::MAX)).then_some(((hi << 32) | lo) as i64)
}

/// Stack inputs of a binary operation `a op b`: `[b_lo, b_hi, a_lo, a_hi]`.
pub fn binary_inputs(a: i64, b: i64) -> Vec<Felt> {
    let mut v = encode(b).to_vec();
    v.extend(encode(a));
    v
}

/// Executes a program; returns the 16 output stack elements.
pub fn execute(program: &Program, inputs: &[Felt]) -> Result<Vec<Felt>, RunError> {
    execute_with_host(program, inputs, &mut host())
}

/// Executes a program with a caller-supplied host (for example one whose division hints lie,
/// to test that the library rejects wrong advice).
pub fn execute_with_host(
    program: &Program,
    inputs: &[Felt],
    host: &mut impl SyncHost,
) -> Result<Vec<Felt>, RunError> {
    let out = miden_vm::execute_sync(
        program,
        stack_inputs(inputs)?,
        AdviceInputs::default(),
        host,
        options(),
    )
    .map_err(|e| classify(&e))?;
    Ok(out.stack.iter().copied().collect())
}

/// Main-trace length (VM cycles) of a successful execution.
pub fn cycles(program: &Program, inputs: &[Felt]) -> Result<usize, RunError> {
    let processor =
        FastProcessor::new_with_options(stack_inputs(inputs)?, AdviceInputs::default(), options())
            .map_err(|e| RunError::Other(format!("processor: {e}")))?;
    let trace_inputs = processor
        .execute_trace_inputs_sync(program, &mut host())
        .map_err(|e| classify(&e))?;
    let trace = miden_vm::trace::build_trace(trace_inputs)
        .map_err(|e| RunError::Other(format!("trace: {e}")))?;
    Ok(trace.trace_len_summary().main_trace_len())
}

/// A proof with the trace figures `miden_prover::prove_sync` does not report.
pub struct TracedProof {
    /// The final operand stack.
    pub stack_outputs: StackOutputs,
    /// The proof (BLAKE3 commitments, [`PROOF_HASH`]).
    pub proof: ExecutionProof,
    /// Main-trace length (VM cycles, with the final HALT row).
    pub cycles: usize,
    /// Padded trace length: the rows the STARK commits to (chiplets included).
    pub trace_length: usize,
}

/// Proves an execution trace with BLAKE3 commitments: the steps `miden_prover::prove_sync`
/// takes after execution, keeping the trace length that function hides.
pub fn prove_trace(trace: miden_vm::trace::ExecutionTrace) -> Result<TracedProof, ExecutionError> {
    let summary = trace.trace_len_summary();
    let (cycles, trace_length) = (summary.main_trace_len(), summary.padded_trace_len());
    let stack_outputs = *trace.stack_outputs();
    let precompile_requests = trace.precompile_requests().to_vec();
    let (public_values, kernel_felts) = trace.public_inputs().to_air_inputs();
    let matrix = trace.to_row_major_matrix();
    drop(trace);
    let var_len_public_inputs: &[&[Felt]] = &[&kernel_felts];
    // Same transcript as config::blake3_256_config, faster proof-of-work search (transcript.rs).
    let stark_config = transcript::blake3_prover_config();
    let bytes = miden_prover::prove_stark(
        &stark_config,
        &matrix,
        &public_values,
        var_len_public_inputs,
    )?;
    Ok(TracedProof {
        stack_outputs,
        proof: ExecutionProof::new(bytes, PROOF_HASH, precompile_requests),
        cycles,
        trace_length,
    })
}

/// Executes and proves a program; returns the output stack and the serialized proof.
pub fn prove(program: &Program, inputs: &[Felt]) -> Result<(Vec<Felt>, Vec<u8>), RunError> {
    let (outputs, proof) = miden_vm::prove_sync(
        program,
        stack_inputs(inputs)?,
        AdviceInputs::default(),
        &mut host(),
        options(),
        ProvingOptions::new(PROOF_HASH),
    )
    .map_err(|e| classify(&e))?;
    Ok((outputs.iter().copied().collect(), proof.to_bytes()))
}

/// Verifies a proof of `program_hash` on the given stack inputs and outputs; returns the
/// security level the engine reports.
pub fn verify(
    program_hash: Word,
    inputs: &[Felt],
    outputs: &[Felt],
    proof: &[u8],
) -> Result<u32, RunError> {
    let proof = ExecutionProof::from_bytes(proof)
        .map_err(|e| RunError::Other(format!("proof encoding: {e}")))?;
    if proof.hash_fn() != PROOF_HASH || !proof.precompile_requests().is_empty() {
        return Err(RunError::Other("unexpected proof parameters".into()));
    }
    let outputs =
        StackOutputs::new(outputs).map_err(|e| RunError::Other(format!("stack outputs: {e}")))?;
    miden_verifier::verify(
        ProgramInfo::new(program_hash, Default::default()),
        stack_inputs(inputs)?,
        outputs,
        proof,
    )
    .map_err(|e| RunError::Other(format!("verification failed: {e}")))
}

/// The operations of the numeric-model vectors (`guest/vectors/numeric-v1.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Cmp,
    Neg,
    Abs,
    Floor,
    Ceil,
    /// Round to 0..=6 digits.
    Round(u32),
}

impl Op {
    /// Every op, in vector-file order.
    pub const ALL: [Op; 17] = [
        Op::Add,
        Op::Sub,
        Op::Mul,
        Op::Div,
        Op::Mod,
        Op::Cmp,
        Op::Neg,
        Op::Abs,
        Op::Floor,
        Op::Ceil,
        Op::Round(0),
        Op::Round(1),
        Op::Round(2),
        Op::Round(3),
        Op::Round(4),
        Op::Round(5),
        Op::Round(6),
    ];

    /// The vector file's name of the op (`add`, ..., `round0`..`round6`).
    pub fn name(self) -> String {
        match self {
            Op::Add => "add".into(),
            Op::Sub => "sub".into(),
            Op::Mul => "mul".into(),
            Op::Div => "div".into(),
            Op::Mod => "mod".into(),
            Op::Cmp => "cmp".into(),
            Op::Neg => "neg".into(),
            Op::Abs => "abs".into(),
            Op::Floor => "floor".into(),
            Op::Ceil => "ceil".into(),
            Op::Round(d) => format!("round{d}"),
        }
    }

    /// Parses a vector file's op name.
    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }

    /// Number of i64 operands.
    pub fn arity(self) -> usize {
        match self {
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod | Op::Cmp => 2,
            _ => 1,
        }
    }

    /// A program running the op once on the stack inputs (`[b, a]` or `[a]`, see
    /// [`binary_inputs`] and [`encode`]).
    pub fn program_source(self) -> String {
        let body = match self {
            Op::Round(d) => format!("push.{d} exec.fixed::round"),
            Op::Mod => "exec.fixed::mod".into(),
            other => format!("exec.fixed::{}", other.name()),
        };
        format!("use m2m::plan::fixed\nbegin\n    {body}\nend\n")
    }

    /// The Rust reference of the op (for `cmp`: -1, 0 or 1).
    pub fn reference(self, args: &[i64]) -> Result<i64, NumError> {
        use crate::fixed as f;
        match self {
            Op::Add => f::add(args[0], args[1]),
            Op::Sub => f::sub(args[0], args[1]),
            Op::Mul => f::mul(args[0], args[1]),
            Op::Div => f::div(args[0], args[1]),
            Op::Mod => f::rem(args[0], args[1]),
            Op::Cmp => Ok(f::cmp(args[0], args[1])),
            Op::Neg => f::neg(args[0]),
            Op::Abs => f::abs(args[0]),
            Op::Floor => f::floor(args[0]),
            Op::Ceil => f::ceil(args[0]),
            Op::Round(d) => f::round(args[0], d),
        }
    }

    /// Stack inputs for the op's arguments.
    pub fn inputs(self, args: &[i64]) -> Vec<Felt> {
        match self.arity() {
            2 => binary_inputs(args[0], args[1]),
            _ => encode(args[0]).to_vec(),
        }
    }

    /// Decodes the op's result from the output stack (`cmp` returns a field element -1/0/1).
    pub fn decode_output(self, stack: &[Felt]) -> Option<i64> {
        match self {
            Op::Cmp => match stack[0].as_canonical_u64() {
                0 => Some(0),
                1 => Some(1),
                v if v == Felt::ORDER - 1 => Some(-1),
                _ => None,
            },
            _ => decode(stack[0], stack[1]),
        }
    }
}
