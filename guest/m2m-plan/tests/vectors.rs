//! Every vector of `guest/vectors/numeric-v1.json` against the Rust reference and against the
//! Miden library executed in the processor; a few programs are also proven and verified.

use std::collections::HashMap;

use m2m_plan::fixed::{self, NumError};
use m2m_plan::{assemble_program, encode, execute, prove, verify, Op, RunError};
use miden_core::Felt;
use miden_vm::Program;

struct Vector {
    op: Op,
    args: Vec<i64>,
    expected: Result<i64, NumError>,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/numeric-v1.json");
    let text = std::fs::read_to_string(path).expect("vector file");
    let json: serde_json::Value = serde_json::from_str(&text).expect("vector json");
    assert_eq!(json["version"], 1);
    assert_eq!(json["scaleDigits"], 6);
    json["vectors"]
        .as_array()
        .expect("vectors array")
        .iter()
        .map(|v| {
            let name = v["op"].as_str().expect("op");
            let op = Op::parse(name).unwrap_or_else(|| panic!("unknown op {name}"));
            let args: Vec<i64> = v["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|a| a.as_str().expect("arg string").parse().expect("i64 arg"))
                .collect();
            assert_eq!(args.len(), op.arity(), "{name} arity");
            let expected = match (v.get("result"), v.get("error")) {
                (Some(r), None) => Ok(r.as_str().expect("result").parse().expect("i64 result")),
                (None, Some(e)) => Err(NumError::from_code(e.as_str().expect("error"))
                    .unwrap_or_else(|| panic!("unknown error code {e}"))),
                _ => panic!("vector needs exactly one of result/error: {v}"),
            };
            Vector { op, args, expected }
        })
        .collect()
}

fn programs() -> HashMap<Op, Program> {
    Op::ALL
        .into_iter()
        .map(|op| {
            let program = assemble_program(&op.program_source())
                .unwrap_or_else(|e| panic!("{}: {e}", op.name()));
            (op, program)
        })
        .collect()
}

fn run(program: &Program, op: Op, args: &[i64]) -> Result<i64, NumError> {
    match execute(program, &op.inputs(args)) {
        Ok(stack) => Ok(op
            .decode_output(&stack)
            .unwrap_or_else(|| panic!("{} {args:?}: malformed output {stack:?}", op.name()))),
        Err(RunError::Numeric(e)) => Err(e),
        Err(RunError::Other(m)) => panic!("{} {args:?}: unexpected failure: {m}", op.name()),
    }
}

#[test]
fn vector_file_has_every_case() {
    let v = vectors();
    assert_eq!(v.len(), 5460);
    let errors = v.iter().filter(|v| v.expected.is_err()).count();
    assert_eq!(errors, 437);
}

#[test]
fn reference_matches_every_vector() {
    let mut failures = Vec::new();
    for v in vectors() {
        let got = v.op.reference(&v.args);
        if got != v.expected {
            failures.push(format!(
                "{} {:?}: expected {:?}, got {got:?}",
                v.op.name(),
                v.args,
                v.expected
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn miden_library_matches_every_vector() {
    let programs = programs();
    let mut failures = Vec::new();
    let mut per_op: HashMap<String, (usize, usize)> = HashMap::new();
    for v in vectors() {
        let got = run(&programs[&v.op], v.op, &v.args);
        let entry = per_op.entry(v.op.name()).or_default();
        if v.expected.is_ok() {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
        if got != v.expected {
            failures.push(format!(
                "{} {:?}: expected {:?}, got {got:?}",
                v.op.name(),
                v.args,
                v.expected
            ));
        }
    }
    let mut names: Vec<_> = per_op.into_iter().collect();
    names.sort();
    for (name, (ok, err)) in names {
        println!("{name}: {ok} results, {err} errors");
    }
    assert!(
        failures.is_empty(),
        "{} failures (first 50):\n{}",
        failures.len(),
        failures[..failures.len().min(50)].join("\n")
    );
}

/// lt/lte/gt/gte/eq agree with the reference comparison on the `cmp` vectors.
#[test]
fn comparison_predicates_match_cmp_vectors() {
    let source = |name: &str| format!("use m2m::plan::fixed\nbegin\n    exec.fixed::{name}\nend\n");
    type Predicate = (&'static str, fn(i64) -> bool);
    let preds: [Predicate; 5] = [
        ("lt", |c| c < 0),
        ("lte", |c| c <= 0),
        ("gt", |c| c > 0),
        ("gte", |c| c >= 0),
        ("eq", |c| c == 0),
    ];
    let programs: Vec<_> = preds
        .iter()
        .map(|(name, f)| (*name, *f, assemble_program(&source(name)).unwrap()))
        .collect();
    let mut checked = 0;
    for v in vectors().into_iter().filter(|v| v.op == Op::Cmp) {
        let c = fixed::cmp(v.args[0], v.args[1]);
        for (name, f, program) in &programs {
            let out = execute(program, &Op::Cmp.inputs(&v.args)).unwrap();
            let want = u64::from(f(c));
            assert_eq!(out[0].as_canonical_u64(), want, "{name} {:?}", v.args);
            checked += 1;
        }
    }
    assert_eq!(checked, 800 * 5);
}

/// round with digits outside 0..6 fails with EXEC_INVALID_ARGUMENT (7, and -1 as a field element).
#[test]
fn round_rejects_invalid_digits() {
    for digits in ["7", "4294967295", "18446744069414584320"] {
        let program = assemble_program(&format!(
            "use m2m::plan::fixed\nbegin\n    push.{digits} exec.fixed::round\nend\n"
        ))
        .unwrap();
        assert_eq!(
            execute(&program, &encode(1_500_000)),
            Err(RunError::Numeric(NumError::InvalidArgument)),
            "digits {digits}"
        );
        assert_eq!(fixed::round(1_500_000, 7), Err(NumError::InvalidArgument));
    }
}

/// assert_valid rejects a limb that is not a u32.
#[test]
fn assert_valid_rejects_non_u32_limbs() {
    let program =
        assemble_program("use m2m::plan::fixed\nbegin\n    exec.fixed::assert_valid\nend\n")
            .unwrap();
    assert!(execute(&program, &encode(-5)).is_ok());
    let bad = [Felt::new(1 << 32).unwrap(), Felt::from_u32(0)];
    match execute(&program, &bad) {
        Err(RunError::Other(m)) => assert!(m.contains("M2M_FIXED_INVALID_VALUE"), "{m}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// End to end: prove and verify a few programs, including a chained computation; a wrong
/// claimed output does not verify; a failing operation cannot be proven.
#[test]
fn prove_and_verify_end_to_end() {
    let cases: [(Op, Vec<i64>); 4] = [
        (Op::Mul, vec![-123_456_789, 987_654_321]),
        (Op::Div, vec![10_000_000, -3_000_000]),
        (Op::Mod, vec![-7_500_000, 2_000_000]),
        (Op::Round(2), vec![-1_234_567]),
    ];
    for (op, args) in cases {
        let program = assemble_program(&op.program_source()).unwrap();
        let inputs = op.inputs(&args);
        let (outputs, proof) = prove(&program, &inputs).unwrap();
        assert_eq!(
            op.decode_output(&outputs),
            Some(op.reference(&args).unwrap())
        );
        verify(program.hash(), &inputs, &outputs, &proof).unwrap();
        let mut forged = outputs.clone();
        forged[0] += Felt::from_u32(1);
        assert!(verify(program.hash(), &inputs, &forged, &proof).is_err());
    }

    // ((a + b) * c) / d, rounded to 2 digits: 15.25 + 4.75 = 20, * 1.5 = 30, / 7 = 4.285714 -> 4.29
    let program = assemble_program(
        "use m2m::plan::fixed
begin
    # [b, a, c, d]
    exec.fixed::add
    # => [a + b, c, d]
    exec.fixed::mul
    # => [c * (a + b), d]; div computes (deeper) / (top), so bring d up
    movup.3 movup.3
    exec.fixed::div
    push.2 exec.fixed::round
end
",
    )
    .unwrap();
    let mut inputs = encode(4_750_000).to_vec(); // b
    inputs.extend(encode(15_250_000)); // a
    inputs.extend(encode(1_500_000)); // c
    inputs.extend(encode(7_000_000)); // d
    let (outputs, proof) = prove(&program, &inputs).unwrap();
    let expected = fixed::round(
        fixed::div(
            fixed::mul(fixed::add(15_250_000, 4_750_000).unwrap(), 1_500_000).unwrap(),
            7_000_000,
        )
        .unwrap(),
        2,
    )
    .unwrap();
    assert_eq!(expected, 4_290_000);
    assert_eq!(m2m_plan::decode(outputs[0], outputs[1]), Some(expected));
    verify(program.hash(), &inputs, &outputs, &proof).unwrap();

    let program = assemble_program(&Op::Div.program_source()).unwrap();
    assert_eq!(
        prove(&program, &Op::Div.inputs(&[1, 0])).map(|_| ()),
        Err(RunError::Numeric(NumError::DivisionByZero))
    );
}
