//! `fixed::from_count`, `fixed::div_count` and `fixed::mean2` (the aggregate helpers) against
//! plain i128 arithmetic, on edge values and a deterministic pseudo-random sweep.

use m2m_plan::{assemble_program, decode, encode, execute, RunError};
use miden_core::Felt;

const EDGES: [i64; 12] = [
    0,
    1,
    -1,
    2,
    -2,
    3,
    -3,
    1_000_000,
    -1_000_001,
    i64::MAX,
    i64::MIN,
    i64::MIN + 1,
];

/// xorshift64*: deterministic inputs without a dependency.
fn values(n: usize) -> Vec<i64> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut out = EDGES.to_vec();
    for _ in 0..n {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let v = state.wrapping_mul(0x2545_f491_4f6c_dd1d) as i64;
        out.push(v >> (v.unsigned_abs() % 60) as u32);
    }
    out
}

fn run(source: &str, inputs: &[Felt]) -> Result<i64, RunError> {
    let program = assemble_program(source)?;
    let out = execute(&program, inputs)?;
    Ok(decode(out[0], out[1]).expect("u32 limbs"))
}

#[test]
fn mean2_truncates_toward_zero_without_overflow() {
    let source = "use m2m::plan::fixed\nbegin\n    exec.fixed::mean2\nend\n";
    let vals = values(60);
    for &a in &vals {
        for &b in vals.iter().take(30) {
            let mut inputs = encode(b).to_vec();
            inputs.extend(encode(a));
            let expected = ((a as i128 + b as i128) / 2) as i64;
            assert_eq!(run(source, &inputs).unwrap(), expected, "mean2({a}, {b})");
        }
    }
}

#[test]
fn div_count_truncates_toward_zero() {
    let source = "use m2m::plan::fixed\nbegin\n    exec.fixed::div_count\nend\n";
    for &a in &values(80) {
        for n in [1_u32, 2, 3, 7, 10, 1000, 65_537, u32::MAX] {
            let mut inputs = vec![Felt::from_u32(n)];
            inputs.extend(encode(a));
            let expected = (a as i128 / n as i128) as i64;
            assert_eq!(run(source, &inputs).unwrap(), expected, "{a} / {n}");
        }
    }
    let mut zero = vec![Felt::from_u32(0)];
    zero.extend(encode(5));
    assert!(
        run(source, &zero).is_err(),
        "division by a zero count must fail"
    );
}

#[test]
fn from_count_scales_to_the_numeric_model() {
    // One felt in, two out: drop one of the zeros below so the program ends at depth 16.
    let source = "use m2m::plan::fixed\nbegin\n    exec.fixed::from_count movup.2 drop\nend\n";
    for n in [0_u32, 1, 2, 300, 1 << 20, u32::MAX] {
        let got = run(source, &[Felt::from_u32(n)]).unwrap();
        assert_eq!(got, i64::from(n) * 1_000_000, "count {n}");
    }
}
