//! Soundness of the advice-based divisions: a host whose u64/u128 division hints lie must make
//! execution fail for every tampering strategy, while the same host answering honestly gives the
//! reference result (which shows the lying handler really is the one consulted).

use std::sync::Arc;

use m2m_plan::{assemble_program, execute_with_host, Op};
use miden_core::Felt;
use miden_core_lib::handlers::{u128_div::U128_DIV_EVENT_NAME, u64_div::U64_DIV_EVENT_NAME};
use miden_processor::{advice::AdviceMutation, event::EventError, ProcessorState};
use miden_vm::DefaultHost;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tamper {
    Honest,
    /// q + 1, same r.
    QuotientPlusOne,
    /// q - 1, r + d: the equation still holds but r >= d.
    QuotientMinusOne,
    /// q + 1, r - d wrapped modulo 2^N: the equation holds modulo 2^N only.
    WrapAround,
    /// same q, r + 1.
    RemainderPlusOne,
    /// q's low limb + 2^32 (not a u32; the same value modulo 2^32).
    NonU32Limb,
}

const MODES: [Tamper; 6] = [
    Tamper::Honest,
    Tamper::QuotientPlusOne,
    Tamper::QuotientMinusOne,
    Tamper::WrapAround,
    Tamper::RemainderPlusOne,
    Tamper::NonU32Limb,
];

fn item(process: &ProcessorState, pos: usize) -> u128 {
    u128::from(process.get_stack_item(pos).as_canonical_u64())
}

/// The (q, r) a host in `mode` supplies for n / d with N-bit operands, as N/32 limbs each
/// (least significant first), as field elements.
fn hint(mode: Tamper, n: u128, d: u128, bits: u32) -> (Vec<Felt>, Vec<Felt>) {
    let mask = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    let (q, r) = (n / d, n % d);
    let (q, r) = match mode {
        Tamper::Honest | Tamper::NonU32Limb => (q, r),
        Tamper::QuotientPlusOne => (q.wrapping_add(1) & mask, r),
        Tamper::QuotientMinusOne => (q.wrapping_sub(1) & mask, r.wrapping_add(d) & mask),
        Tamper::WrapAround => (q.wrapping_add(1) & mask, r.wrapping_sub(d) & mask),
        Tamper::RemainderPlusOne => (q, r.wrapping_add(1) & mask),
    };
    let limbs = |x: u128| -> Vec<u64> {
        (0..bits / 32)
            .map(|i| ((x >> (32 * i)) as u64) & 0xffff_ffff)
            .collect()
    };
    let mut ql = limbs(q);
    if mode == Tamper::NonU32Limb {
        ql[0] += 1 << 32;
    }
    let felts = |v: Vec<u64>| v.into_iter().map(|x| Felt::new(x).unwrap()).collect();
    (felts(ql), felts(limbs(r)))
}

fn lying_host(mode: Tamper) -> DefaultHost {
    let mut host = DefaultHost::default();
    let u64_div = move |p: &ProcessorState| -> Result<Vec<AdviceMutation>, EventError> {
        // Operand stack: [event_id, d_lo, d_hi, n_lo, n_hi, ...]
        let d = item(p, 1) | (item(p, 2) << 32);
        let n = item(p, 3) | (item(p, 4) << 32);
        let (q, r) = hint(mode, n, d, 64);
        Ok(vec![AdviceMutation::extend_stack([q[1], q[0], r[1], r[0]])])
    };
    let u128_div = move |p: &ProcessorState| -> Result<Vec<AdviceMutation>, EventError> {
        // Operand stack: [event_id, d0, d1, d2, d3, n0, n1, n2, n3, ...]
        let word =
            |start: usize| (0..4).fold(0u128, |acc, i| acc | (item(p, start + i) << (32 * i)));
        let (q, r) = hint(mode, word(5), word(1), 128);
        Ok(vec![AdviceMutation::extend_stack(r.into_iter().chain(q))])
    };
    host.register_handler(U64_DIV_EVENT_NAME, Arc::new(u64_div))
        .unwrap();
    host.register_handler(U128_DIV_EVENT_NAME, Arc::new(u128_div))
        .unwrap();
    host
}

#[test]
fn wrong_division_hints_make_execution_fail() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/numeric-v1.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut honest = 0;
    let mut rejected = 0;
    for op in Op::ALL {
        // The ops that divide: mul, div (u128), mod, floor, ceil, round (u64).
        if matches!(op, Op::Add | Op::Sub | Op::Cmp | Op::Neg | Op::Abs) {
            continue;
        }
        let program = assemble_program(&op.program_source()).unwrap();
        for v in json["vectors"].as_array().unwrap() {
            if v["op"] != op.name().as_str() || v.get("result").is_none() {
                continue;
            }
            let args: Vec<i64> = v["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().parse().unwrap())
                .collect();
            let expected = op.reference(&args).unwrap();
            for mode in MODES {
                let result = execute_with_host(&program, &op.inputs(&args), &mut lying_host(mode));
                if mode == Tamper::Honest {
                    let stack = result.unwrap_or_else(|e| panic!("{} {args:?}: {e}", op.name()));
                    assert_eq!(op.decode_output(&stack), Some(expected), "{}", op.name());
                    honest += 1;
                } else {
                    assert!(
                        result.is_err(),
                        "{} {args:?}: {mode:?} hint was accepted: {result:?}",
                        op.name()
                    );
                    rejected += 1;
                }
            }
        }
    }
    println!("honest hints accepted: {honest}; tampered hints rejected: {rejected}");
    assert!(honest > 2000);
    assert_eq!(rejected, honest * 5);
}
