//! End to end: a plan-style program that loads a committed blob, checks its digest against a
//! public input and computes on it is proven and verified; tampering is rejected; error codes
//! come out of assertion messages.

use m2m_plan::data::{hash_u64s, word_u64s};
use m2m_plan::plan::{self, codes, PlanRun};

const KEY: [u64; 4] = [7, 0, 0, 1];

/// Stack inputs [K0..K3, C0..C3]: the blob's key, then its public commitment. Output: the sum of
/// the blob's first two elements (fixed-point add, so i64 limbs [lo, hi]).
const PROGRAM: &str = "use m2m::plan::data
use m2m::plan::fixed
begin
    push.256 movdn.4
    exec.data::load_blob
    # => [D, end_ptr, C, ...]
    movup.4 drop
    assert_eqw.err=\"M2M_PLAN_BAD_INPUT: the blob does not match its commitment\"
    # a = (mem[256], mem[257]), b = (mem[258], mem[259]) as i64 limbs
    mem_load.257 mem_load.256 exec.fixed::assert_valid
    mem_load.259 mem_load.258 exec.fixed::assert_valid
    exec.fixed::add
    # the stack must end 16 deep: drop the two zeros pushed below the result
    movup.2 drop movup.2 drop
end
";

fn limbs(x: i64) -> [u64; 2] {
    let u = x as u64;
    [u & 0xffff_ffff, u >> 32]
}

fn blob(a: i64, b: i64) -> Vec<u64> {
    let mut v = limbs(a).to_vec();
    v.extend(limbs(b));
    v.extend([5, 6, 7, 8]);
    v
}

fn request(blob: Vec<u64>, commitment: [u64; 4]) -> PlanRun {
    let mut inputs = KEY.to_vec();
    inputs.extend(commitment);
    PlanRun {
        masm: PROGRAM.into(),
        stack_inputs: inputs,
        advice_map: vec![(KEY, blob)],
        max_cycles: 1 << 16,
    }
}

#[test]
fn blob_program_proves_and_verifies_and_tampering_fails() {
    let data = blob(1_500_000, -250_000);
    let commitment = word_u64s(&hash_u64s(&data).unwrap());
    let req = request(data, commitment);

    let ran = plan::run(&req).expect("runs");
    assert_eq!(ran.stack_outputs[..2], limbs(1_250_000));
    assert!(ran.stack_outputs[2..].iter().all(|v| *v == 0));
    assert_eq!(ran.stack_outputs.len(), 16);

    let proved = plan::prove(&req).expect("proves");
    eprintln!(
        "plan program: {} cycles, padded trace {}, proof {} bytes, {:.0} ms",
        proved.cycles,
        proved.trace_length,
        proved.proof.len(),
        proved.proving_time_ms
    );
    assert_eq!(proved.stack_outputs, ran.stack_outputs);
    assert_eq!(proved.cycles, ran.cycles);
    assert_eq!(proved.trace_length, ran.trace_length);
    let hash = plan::program_hash(PROGRAM).expect("assembles");
    assert_eq!(proved.program_hash, hash);
    assert_eq!(ran.program_hash, hash);

    let bits = plan::verify(
        hash,
        &req.stack_inputs,
        &proved.stack_outputs,
        &proved.proof,
    )
    .expect("verifies");
    assert!(bits >= 96, "{bits}");

    // A tampered proof byte.
    for at in [proved.proof.len() / 2, proved.proof.len() - 1, 40] {
        let mut bad = proved.proof.clone();
        bad[at] ^= 1;
        let err = plan::verify(hash, &req.stack_inputs, &proved.stack_outputs, &bad)
            .expect_err("tampered proof");
        assert!(
            err.code == codes::VERIFICATION_FAILED || err.code == codes::INVALID_PROOF_ENCODING,
            "{err}"
        );
    }
    // A wrong stack output.
    let mut outputs = proved.stack_outputs.clone();
    outputs[0] += 1;
    let err =
        plan::verify(hash, &req.stack_inputs, &outputs, &proved.proof).expect_err("wrong output");
    assert_eq!(err.code, codes::VERIFICATION_FAILED, "{err}");
    // A wrong public input (another commitment).
    let mut inputs = req.stack_inputs.clone();
    inputs[4] += 1;
    let err =
        plan::verify(hash, &inputs, &proved.stack_outputs, &proved.proof).expect_err("wrong input");
    assert_eq!(err.code, codes::VERIFICATION_FAILED, "{err}");
    // Another program.
    let other = plan::program_hash("begin push.1 drop end").unwrap();
    let err = plan::verify(
        other,
        &req.stack_inputs,
        &proved.stack_outputs,
        &proved.proof,
    )
    .expect_err("wrong program");
    assert_eq!(err.code, codes::VERIFICATION_FAILED, "{err}");
    // Trailing bytes.
    let mut long = proved.proof.clone();
    long.push(0);
    let err = plan::verify(hash, &req.stack_inputs, &proved.stack_outputs, &long)
        .expect_err("trailing byte");
    assert_eq!(err.code, codes::INVALID_PROOF_ENCODING, "{err}");
}

#[test]
fn a_blob_that_does_not_match_its_commitment_cannot_be_proven() {
    let data = blob(1, 2);
    let mut commitment = word_u64s(&hash_u64s(&data).unwrap());
    commitment[3] ^= 1;
    let err = plan::prove(&request(data, commitment)).expect_err("mismatch");
    assert_eq!(err.code, "M2M_PLAN_BAD_INPUT", "{err}");
    assert!(err.message.contains("does not match"), "{err}");
}

#[test]
fn error_codes_come_from_assertion_messages() {
    let run = |masm: &str, inputs: Vec<u64>| {
        plan::run(&PlanRun {
            masm: masm.into(),
            stack_inputs: inputs,
            advice_map: vec![],
            max_cycles: 1 << 16,
        })
    };
    let err = run("begin push.0 assert.err=\"EXEC_OVERFLOW: x\" end", vec![]).expect_err("assert");
    assert_eq!(err.code, "EXEC_OVERFLOW");
    assert_eq!(err.message, "x");

    // The numeric library's own overflow: i64::MAX + 1.
    let [a_lo, a_hi] = limbs(i64::MAX);
    let [b_lo, b_hi] = limbs(1);
    let err = run(
        "use m2m::plan::fixed\nbegin exec.fixed::add end",
        vec![b_lo, b_hi, a_lo, a_hi],
    )
    .expect_err("overflow");
    assert_eq!(err.code, "EXEC_OVERFLOW", "{err}");

    let err = run("begin push.5 u32assert.err=\"M2M_PLAN_BAD_HINT: u\" push.1 u32assert.err=\"M2M_PLAN_BAD_HINT: u\" drop drop push.4294967296 u32assert.err=\"M2M_PLAN_BAD_HINT: not u32\" drop end", vec![])
        .expect_err("u32assert");
    assert_eq!(err.code, "M2M_PLAN_BAD_HINT");

    // Uncoded assertions and lowercase prefixes are generic execution failures.
    for masm in [
        "begin push.0 assert end",
        "begin push.0 assert.err=\"overflow: x\" end",
        "begin push.0 assert.err=\"E: x\" end",
    ] {
        let err = run(masm, vec![]).expect_err(masm);
        assert_eq!(err.code, codes::EXECUTION_FAILED, "{masm}: {err}");
    }

    let err = run("begin push.1 nonsense end", vec![]).expect_err("assembly");
    assert_eq!(err.code, codes::ASSEMBLY_FAILED);
    assert!(err.message.contains("nonsense"), "{}", err.message);

    let err = run("begin push.1 while.true push.1 end end", vec![]).expect_err("endless loop");
    assert_eq!(err.code, codes::CYCLE_LIMIT_EXCEEDED, "{err}");

    let err = plan::run(&PlanRun {
        masm: "begin nop end".into(),
        stack_inputs: vec![],
        advice_map: vec![],
        max_cycles: (1 << 24) + 1,
    })
    .expect_err("limit");
    assert_eq!(err.code, codes::INVALID_INPUT);

    let err = run("begin nop end", vec![u64::MAX]).expect_err("non-canonical");
    assert_eq!(err.code, codes::INVALID_INPUT);
    let err = run("begin nop end", vec![0; 17]).expect_err("17 inputs");
    assert_eq!(err.code, codes::INVALID_INPUT);
}

#[test]
fn stack_input_order_first_is_top() {
    let out = plan::run(&PlanRun {
        masm: "begin drop end".into(),
        stack_inputs: vec![10, 20, 30],
        advice_map: vec![],
        max_cycles: 1 << 10,
    })
    .expect("runs");
    assert_eq!(out.stack_outputs[..3], [20, 30, 0]);
}
