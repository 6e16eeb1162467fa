//! `m2m::plan::data`: the VM digest of a blob equals the Rust `hash_felts`, `load_blob` copies the
//! blob exactly, and malformed blobs or pointers make execution fail with their codes.

use m2m_plan::data::{digest_hex, hash_felts, hash_u64s, word_u64s, FIELD_MODULUS};
use m2m_plan::plan::{self, codes, PlanRun};
use miden_core::Felt;
use miden_processor::ContextId;
use miden_vm::advice::AdviceInputs;
use miden_vm::{ExecutionOptions, StackInputs};

const DEST: u64 = 1000;
const KEY: [u64; 4] = [11, 22, 33, 44];

/// Deterministic field elements (splitmix64, reduced below the modulus).
fn values(n: usize, seed: u64) -> Vec<u64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) % FIELD_MODULUS
        })
        .collect()
}

/// Loads the blob at DEST, then hashes the same memory again with `hash_memory`.
/// Output: [H (hash_memory), D (load_blob), end_ptr, ...]. The operand stack never gets shallower
/// than 16 (dropping at depth 16 shifts zeros in), so load_blob's `dropw` of the key at the
/// minimum depth adds 4 to the depth here; eight zeros are dropped at the end to leave 16.
fn program(len: usize) -> String {
    format!(
        "use m2m::plan::data
begin
    exec.data::load_blob
    push.{len} push.{DEST} exec.data::hash_memory
    repeat.8 movup.9 drop end
end
"
    )
}

fn inputs() -> Vec<u64> {
    let mut v = KEY.to_vec();
    v.push(DEST);
    v
}

fn run(masm: String, blob: Vec<u64>) -> Result<plan::RunOutput, plan::PlanError> {
    plan::run(&PlanRun {
        masm,
        stack_inputs: inputs(),
        advice_map: vec![(KEY, blob)],
        max_cycles: 1 << 20,
    })
}

#[test]
fn vm_digest_equals_rust_hash_felts() {
    for (len, seed) in [(0, 1), (8, 2), (16, 3), (800, 4)] {
        let blob = values(len, seed);
        let out = run(program(len), blob.clone()).expect("runs");
        let expected = word_u64s(&hash_u64s(&blob).expect("canonical"));
        assert_eq!(out.stack_outputs[0..4], expected, "hash_memory, len {len}");
        assert_eq!(out.stack_outputs[4..8], expected, "load_blob, len {len}");
        assert_eq!(
            out.stack_outputs[8],
            DEST + len as u64,
            "end_ptr, len {len}"
        );
        assert!(out.stack_outputs[9..].iter().all(|v| *v == 0));
        eprintln!(
            "len {len}: {} cycles, padded trace {}, digest {}",
            out.cycles,
            out.trace_length,
            digest_hex(&hash_u64s(&blob).unwrap())
        );
    }
    // The empty blob hashes to the zero word.
    assert_eq!(word_u64s(&hash_felts(&[])), [0; 4]);
}

#[test]
fn load_blob_copies_the_data_exactly() {
    let blob = values(64, 9);
    let program = m2m_plan::plan::assemble(&program(blob.len())).expect("assembles");
    let felts: Vec<Felt> = inputs().iter().map(|v| Felt::new(*v).unwrap()).collect();
    let map_values: Vec<Felt> = blob.iter().map(|v| Felt::new(*v).unwrap()).collect();
    let key = miden_core::Word::new(KEY.map(|k| Felt::new(k).unwrap()));
    let out = miden_vm::execute_sync(
        &program,
        StackInputs::new(&felts).unwrap(),
        AdviceInputs::default().with_map([(key, map_values)]),
        &mut m2m_plan::host(),
        ExecutionOptions::default(),
    )
    .expect("runs");
    for (i, v) in blob.iter().enumerate() {
        let addr = Felt::new(DEST + i as u64).unwrap();
        let got = out
            .memory
            .read_element(ContextId::root(), addr)
            .expect("readable");
        assert_eq!(got.as_canonical_u64(), *v, "mem[{}]", DEST + i as u64);
    }
    // Nothing written before or after the blob, and mem[0] (the heap pointer) untouched.
    for addr in [0, DEST - 1, DEST + blob.len() as u64] {
        let got = out
            .memory
            .read_element(ContextId::root(), Felt::new(addr).unwrap())
            .expect("readable");
        assert_eq!(got.as_canonical_u64(), 0, "mem[{addr}]");
    }
}

#[test]
fn malformed_blobs_and_pointers_fail_with_codes() {
    for len in [1, 7, 9, 15] {
        let err = run(program(len), values(len, 5)).expect_err("length not a multiple of 8");
        assert_eq!(err.code, "M2M_PLAN_BAD_BLOB", "len {len}: {err}");
    }
    // Misaligned destination.
    let err = plan::run(&PlanRun {
        masm: program(8),
        stack_inputs: vec![KEY[0], KEY[1], KEY[2], KEY[3], DEST + 2],
        advice_map: vec![(KEY, values(8, 6))],
        max_cycles: 1 << 20,
    })
    .expect_err("misaligned");
    assert_eq!(err.code, "M2M_PLAN_BAD_POINTER", "{err}");
    // hash_memory with n not a multiple of 8.
    let err = plan::run(&PlanRun {
        masm: "use m2m::plan::data\nbegin push.4 push.64 exec.data::hash_memory dropw end".into(),
        stack_inputs: vec![],
        advice_map: vec![],
        max_cycles: 1 << 20,
    })
    .expect_err("n = 4");
    assert_eq!(err.code, "M2M_PLAN_BAD_BLOB", "{err}");
    // A key missing from the advice map.
    let err = plan::run(&PlanRun {
        masm: program(8),
        stack_inputs: inputs(),
        advice_map: vec![([1, 2, 3, 4], values(8, 7))],
        max_cycles: 1 << 20,
    })
    .expect_err("missing key");
    assert_eq!(err.code, codes::EXECUTION_FAILED, "{err}");
}
