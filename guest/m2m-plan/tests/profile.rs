//! `plan::profile` (cycles between `trace.N` markers) and the trace-part rows `plan::run` reports.

use m2m_plan::plan::{self, PlanRun};

fn request(masm: &str) -> PlanRun {
    PlanRun {
        masm: masm.to_string(),
        stack_inputs: vec![],
        advice_map: vec![],
        max_cycles: 1 << 16,
    }
}

#[test]
fn regions_count_the_cycles_between_their_markers() {
    // Region 0: three one-cycle ops inside one basic block, entered five times (a long block
    // may add a RESPAN cycle at a batch boundary). Region 1 encloses region 0's loop.
    let masm = "begin
    trace.2 push.0 drop nop
    repeat.5
        trace.0 swap swap swap trace.1 drop
    end
    trace.3 nop
end";
    let regions = plan::profile(&request(masm)).expect("runs");
    let (inner, entries) = regions[&0];
    assert_eq!(entries, 5);
    assert!((15..=20).contains(&inner), "3 ops x 5 entries, got {inner}");
    let (outer, entered) = regions[&1];
    assert_eq!(entered, 1);
    assert!(
        outer >= inner + 5,
        "the outer region includes the inner one and the drops: {outer}"
    );
}

#[test]
fn markers_change_neither_the_program_nor_its_cycles() {
    let plain = "begin push.1 push.2 add drop end";
    let marked = "begin trace.0 push.1 push.2 add trace.1 drop end";
    let a = plan::run(&request(plain)).expect("runs");
    let b = plan::run(&request(marked)).expect("runs");
    assert_eq!(a.program_hash, b.program_hash);
    assert_eq!(a.cycles, b.cycles);
    assert_eq!(plan::profile(&request(plain)).expect("runs").len(), 0);
}

#[test]
fn trace_rows_explain_the_padded_length() {
    // A loop of hashing: hash-chiplet rows outgrow the main trace.
    let hashing = "begin repeat.64 hperm end end";
    let out = plan::run(&request(hashing)).expect("runs");
    assert_eq!(out.rows.main, out.cycles);
    assert!(out.rows.hash > out.rows.main, "{:?}", out.rows);
    let longest = [
        out.rows.main,
        out.rows.range,
        out.rows.hash + out.rows.bitwise + out.rows.memory,
    ]
    .into_iter()
    .max()
    .unwrap();
    assert!(out.trace_length >= longest && out.trace_length < 2 * longest.max(32));
    assert!(out.trace_length.is_power_of_two());
}
