//! The plan commands of the protocol (`plan-hash`, `plan-run`, `plan-prove`, `plan-verify`,
//! `hash-felts`), in process and through the `m2m-prover` binary.

mod common;

use common::run_bin;
use m2m_stark::protocol::handle;
use m2m_stark::ErrorCode;
use serde_json::{json, Value};

/// Stack inputs [K0..K3, C0..C3]: loads the blob under K, asserts its digest is C, outputs the
/// sum of its first two field elements.
const MASM: &str = "use m2m::plan::data
begin
    push.256 movdn.4
    exec.data::load_blob
    movup.4 drop
    assert_eqw.err=\"M2M_PLAN_BAD_INPUT: the blob does not match its commitment\"
    mem_load.256 mem_load.257 add
    # end 16 deep: drop the zero below the result
    swap drop
end
";

fn strings(values: &[u64]) -> Vec<String> {
    values.iter().map(u64::to_string).collect()
}

fn blob() -> Vec<u64> {
    (1..=16).collect()
}

/// The digest of the blob as four decimal strings, via `hash-felts` and the hex rule.
fn commitment() -> Vec<String> {
    let out = handle("hash-felts", &json!({ "values": strings(&blob()) })).unwrap();
    let hex = out["digest"].as_str().unwrap();
    assert_eq!(hex.len(), 64);
    assert_eq!(out["length"], 16);
    (0..4)
        .map(|i| {
            let mut le = [0u8; 8];
            for (j, b) in le.iter_mut().enumerate() {
                let at = 16 * i + 2 * j;
                *b = u8::from_str_radix(&hex[at..at + 2], 16).unwrap();
            }
            u64::from_le_bytes(le).to_string()
        })
        .collect()
}

fn run_request() -> Value {
    let mut inputs = strings(&[9, 8, 7, 6]);
    inputs.extend(commitment());
    json!({
        "masm": MASM,
        "stackInputs": inputs,
        "adviceMap": [{ "key": ["9", "8", "7", "6"], "values": strings(&blob()) }],
        "maxCycles": 65536,
    })
}

fn code(r: Result<Value, m2m_stark::Error>) -> ErrorCode {
    r.expect_err("expected an error").code
}

#[test]
fn plan_commands_end_to_end() {
    let hash = handle("plan-hash", &json!({ "masm": MASM })).unwrap();
    let program_hash = hash["programHash"].as_str().unwrap().to_owned();
    assert_eq!(program_hash.len(), 64);
    assert_eq!(
        program_hash,
        m2m_plan::digest_hex(&m2m_plan::plan::program_hash(MASM).unwrap())
    );

    let req = run_request();
    let ran = handle("plan-run", &req).unwrap();
    assert_eq!(ran["programHash"], json!(program_hash));
    let outputs = ran["stackOutputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 16);
    assert_eq!(outputs[0], "3");
    assert!(ran["cycles"].as_u64().unwrap() > 0);
    assert!(ran["traceLength"].as_u64().unwrap().is_power_of_two());

    let proved = handle("plan-prove", &req).unwrap();
    assert_eq!(proved["proofType"], "m2m.stark.plan.v1");
    assert_eq!(proved["proofEncoding"], "hex");
    assert_eq!(proved["stackOutputs"], ran["stackOutputs"]);
    assert_eq!(proved["cycles"], ran["cycles"]);
    assert_eq!(proved["programHash"], json!(program_hash));
    assert!(proved["securityBits"].as_u64().unwrap() >= 96);

    let verify = json!({
        "programHash": program_hash,
        "stackInputs": req["stackInputs"],
        "stackOutputs": proved["stackOutputs"],
        "proof": proved["proof"],
        "proofHash": proved["proofHash"],
    });
    let ok = handle("plan-verify", &verify).unwrap();
    assert_eq!(ok["valid"], true);
    assert_eq!(ok["proofHash"], proved["proofHash"]);

    // By source instead of hash; both given and consistent.
    let mut by_masm = verify.clone();
    by_masm.as_object_mut().unwrap().remove("programHash");
    by_masm["masm"] = json!(MASM);
    assert_eq!(handle("plan-verify", &by_masm).unwrap()["valid"], true);
    let mut both = by_masm.clone();
    both["programHash"] = json!(program_hash);
    assert_eq!(handle("plan-verify", &both).unwrap()["valid"], true);

    // Another program's source with this hash.
    let mut r = both.clone();
    r["masm"] = json!("begin push.1 drop end");
    assert_eq!(
        code(handle("plan-verify", &r)),
        ErrorCode::ProgramIdMismatch
    );
    // A wrong output, a wrong input, a flipped proof byte, a wrong proof hash.
    let mut r = verify.clone();
    r["stackOutputs"][0] = json!("4");
    assert_eq!(
        code(handle("plan-verify", &r)),
        ErrorCode::VerificationFailed
    );
    let mut r = verify.clone();
    r["stackInputs"][4] = json!("1");
    assert_eq!(
        code(handle("plan-verify", &r)),
        ErrorCode::VerificationFailed
    );
    let mut r = verify.clone();
    r.as_object_mut().unwrap().remove("proofHash");
    let mut proof = hex::decode(proved["proof"].as_str().unwrap()).unwrap();
    let mid = proof.len() / 2;
    proof[mid] ^= 1;
    r["proof"] = json!(hex::encode(&proof));
    let c = code(handle("plan-verify", &r));
    assert!(
        matches!(
            c,
            ErrorCode::VerificationFailed | ErrorCode::InvalidProofEncoding
        ),
        "{c}"
    );
    let mut r = verify.clone();
    r["proof"] = json!(hex::encode(&proof));
    assert_eq!(
        code(handle("plan-verify", &r)),
        ErrorCode::ProofHashMismatch
    );
    let mut r = verify.clone();
    r["proof"] = json!("zz");
    assert_eq!(
        code(handle("plan-verify", &r)),
        ErrorCode::InvalidProofEncoding
    );
    let mut r = verify.clone();
    r.as_object_mut().unwrap().remove("programHash");
    assert_eq!(code(handle("plan-verify", &r)), ErrorCode::InvalidRequest);
}

#[test]
fn plan_errors_have_codes() {
    let mut req = run_request();
    req["stackInputs"][5] = json!("1");
    let err = handle("plan-run", &req).expect_err("commitment mismatch");
    assert_eq!(err.code.as_str(), "M2M_PLAN_BAD_INPUT");
    assert_eq!(err.code.exit_code(), 1);

    let err = handle(
        "plan-prove",
        &json!({ "masm": "begin push.0 assert.err=\"EXEC_OVERFLOW: result too large\" end" }),
    )
    .expect_err("overflow");
    assert_eq!(err.code, ErrorCode::Program("EXEC_OVERFLOW"));
    assert_eq!(err.message, "result too large");

    assert_eq!(
        code(handle("plan-hash", &json!({ "masm": "begin oops end" }))),
        ErrorCode::PlanAssemblyFailed
    );
    assert_eq!(
        code(handle(
            "plan-run",
            &json!({ "masm": "begin push.0 assert end" })
        )),
        ErrorCode::PlanExecutionFailed
    );
    assert_eq!(
        code(handle(
            "plan-run",
            &json!({ "masm": "begin push.1 while.true push.1 end end", "maxCycles": 1000 })
        )),
        ErrorCode::PlanCycleLimitExceeded
    );
    assert_eq!(
        code(handle(
            "plan-run",
            &json!({ "masm": "begin nop end", "maxCycles": 16777217 })
        )),
        ErrorCode::PlanInvalidInput
    );
    assert_eq!(
        code(handle(
            "plan-run",
            &json!({ "masm": "begin nop end", "stackInputs": ["18446744073709551615"] })
        )),
        ErrorCode::PlanInvalidInput
    );
    let mut bad = run_request();
    bad["adviceMap"][0]["key"] = json!(["1", "2", "3"]);
    assert_eq!(code(handle("plan-run", &bad)), ErrorCode::InvalidRequest);
    let mut bad = run_request();
    bad["stackInputs"][0] = json!("01");
    assert_eq!(code(handle("plan-run", &bad)), ErrorCode::InvalidRequest);
    assert_eq!(
        code(handle(
            "hash-felts",
            &json!({ "values": ["18446744069414584321"] })
        )),
        ErrorCode::PlanInvalidInput
    );
    assert_eq!(
        code(handle(
            "plan-run",
            &json!({ "masm": "begin nop end", "extra": 1 })
        )),
        ErrorCode::InvalidRequest
    );
}

#[test]
fn binary_plan_commands() {
    let (rc, info) = run_bin(&["info"], &Value::Null);
    assert_eq!(rc, 0);
    assert!(info["commands"]
        .as_array()
        .unwrap()
        .contains(&json!("plan-prove")));
    assert_eq!(info["plan"]["proofType"], "m2m.stark.plan.v1");

    let req = run_request();
    let (rc, proved) = run_bin(&["plan-prove", "--timeout-ms", "60000"], &req);
    assert_eq!(rc, 0, "{proved}");
    assert!(proved["peakMemoryBytes"].as_u64().unwrap() > 0);
    let (rc, ok) = run_bin(
        &["plan-verify"],
        &json!({
            "masm": MASM,
            "stackInputs": req["stackInputs"],
            "stackOutputs": proved["stackOutputs"],
            "proof": proved["proof"],
        }),
    );
    assert_eq!((rc, ok["valid"].clone()), (0, json!(true)), "{ok}");

    let (rc, err) = run_bin(
        &["plan-run"],
        &json!({ "masm": "begin push.0 assert.err=\"EXEC_DIVISION_BY_ZERO: x\" end" }),
    );
    assert_eq!(
        (rc, err["error"]["code"].clone()),
        (1, json!("EXEC_DIVISION_BY_ZERO"))
    );
    let (rc, err) = run_bin(&["plan-hash"], &json!({ "masm": "begin oops end" }));
    assert_eq!(
        (rc, err["error"]["code"].clone()),
        (2, json!("M2M_PLAN_ASSEMBLY_FAILED"))
    );
}
