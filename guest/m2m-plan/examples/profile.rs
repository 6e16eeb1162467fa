//! Where a plan program's cycles go: runs a `plan-run` request whose MASM carries `trace.N`
//! markers (even id opens region N/2, the next odd id closes it) and prints each region's
//! inclusive cycles. `cargo run --release -p m2m-plan --example profile -- request.json`
//!
//! The request is the JSON of `m2m-prover plan-run` (masm, stackInputs, adviceMap, maxCycles).

use m2m_plan::plan::{profile, PlanRun, MAX_PLAN_CYCLES};

fn numbers(v: &serde_json::Value) -> Vec<u64> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| match x {
                    serde_json::Value::String(s) => s.parse().expect("a u64 string"),
                    other => other.as_u64().expect("a u64"),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: profile <request.json>");
    let req: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("request file")).unwrap();
    let advice_map = req["adviceMap"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let k = numbers(&e["key"]);
                    ([k[0], k[1], k[2], k[3]], numbers(&e["values"]))
                })
                .collect()
        })
        .unwrap_or_default();
    let run = PlanRun {
        masm: req["masm"].as_str().expect("masm").to_string(),
        stack_inputs: numbers(&req["stackInputs"]),
        advice_map,
        max_cycles: req["maxCycles"]
            .as_u64()
            .map_or(MAX_PLAN_CYCLES, |n| n as u32),
    };
    let regions = profile(&run).unwrap_or_else(|e| panic!("{}: {}", e.code, e.message));
    println!("| region | cycles | entered |");
    println!("|---|---|---|");
    for (region, (cycles, count)) in regions {
        println!("| {region} | {cycles} | {count} |");
    }
}
