//! Prove time versus VM cycles, for sizing plan-execution proofs (see PLAN_PROOFS.md).
//! `cargo run --release --example scaling -- [max_log2_cycles]`

use std::time::Instant;

use miden_vm::{
    advice::AdviceInputs, Assembler, DefaultHost, ExecutionOptions, FastProcessor, ProvingOptions,
    StackInputs,
};

fn main() {
    let max_log: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(18);
    for log in (8..=max_log).step_by(2) {
        // About 4 cycles per iteration (u32 ops mixed in so the range checker is exercised).
        let iterations = (1u64 << log) / 4;
        let src = format!(
            "begin push.{iterations} push.1 while.true sub.1 dup u32assert neq.0 end drop end"
        );
        let program = Assembler::default().assemble_program(&src).unwrap();
        let processor = FastProcessor::new_with_options(
            StackInputs::default(),
            AdviceInputs::default(),
            ExecutionOptions::default(),
        )
        .unwrap();
        let inputs = processor
            .execute_trace_inputs_sync(&program, &mut DefaultHost::default())
            .unwrap();
        let summary = *miden_vm::trace::build_trace(inputs)
            .unwrap()
            .trace_len_summary();
        let t = Instant::now();
        let (_, proof) = miden_vm::prove_sync(
            &program,
            StackInputs::default(),
            AdviceInputs::default(),
            &mut DefaultHost::default(),
            ExecutionOptions::default(),
            ProvingOptions::new(m2m_stark::engine::PROOF_HASH),
        )
        .unwrap();
        println!(
            "{{\"loopIterations\":{iterations},\"trace\":\"{summary:?}\",\"proveMs\":{:.1},\"proofBytes\":{}}}",
            t.elapsed().as_secs_f64() * 1e3,
            proof.to_bytes().len()
        );
    }
}
