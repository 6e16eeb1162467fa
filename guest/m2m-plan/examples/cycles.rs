//! VM cycles per operation of `m2m::plan::fixed`.
//! `cargo run --release -p m2m-plan --example cycles`
//!
//! For each op: main-trace rows of `begin exec.fixed::OP end` on the vectors' arguments, minus
//! the rows of the baseline program `begin nop end`, plus one (the baseline's own `nop`). The
//! figure therefore includes the control-flow cycles of calling the procedure. Ops with
//! data-dependent branches vary, so the minimum and maximum over the successful vectors are
//! shown.

use std::collections::BTreeMap;

use m2m_plan::{assemble_program, cycles, Op};

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/numeric-v1.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vector file")).unwrap();
    let baseline = cycles(&assemble_program("begin nop end").unwrap(), &[]).unwrap();
    let mut table: BTreeMap<usize, (String, usize, usize, usize)> = BTreeMap::new();
    for (i, op) in Op::ALL.into_iter().enumerate() {
        let program = assemble_program(&op.program_source()).unwrap();
        let mut min = usize::MAX;
        let mut max = 0;
        let mut n = 0;
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
            let c = cycles(&program, &op.inputs(&args)).unwrap() - baseline + 1;
            min = min.min(c);
            max = max.max(c);
            n += 1;
        }
        table.insert(i, (op.name(), min, max, n));
    }
    println!("baseline `begin nop end`: {baseline} rows");
    println!("| op | cycles (min) | cycles (max) | vectors measured |");
    println!("|---|---|---|---|");
    for (name, min, max, n) in table.values() {
        println!("| {name} | {min} | {max} | {n} |");
    }
}
