//! The JSON protocol, in process and through the `m2m-prover` binary.

mod common;

use common::run_bin;
use m2m_stark::protocol::handle;
use m2m_stark::ErrorCode;
use serde_json::{json, Value};

fn code(r: Result<Value, m2m_stark::Error>) -> ErrorCode {
    r.expect_err("expected an error").code
}

fn verify_request(pi: &Value, resp: &Value) -> Value {
    json!({
        "publicInputs": pi,
        "witnessCommitment": resp["witnessCommitment"],
        "proof": resp["proof"],
        "proofHash": resp["proofHash"],
        "programId": resp["programId"],
        "publicInputsHash": resp["publicInputsHash"],
    })
}

#[test]
fn prove_then_verify_and_tamper() {
    let pi = common::aml("10000", 42);
    let resp = handle(
        "compliance-prove",
        &json!({ "publicInputs": pi, "amount": "5000" }),
    )
    .unwrap();
    assert_eq!(resp["policyId"], "aml.threshold");
    assert!(resp["programId"]
        .as_str()
        .unwrap()
        .starts_with("poseidon2:"));
    assert!(resp["publicInputsHash"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(resp["proofSizeBytes"].as_u64().unwrap() < 64 * 1024);
    assert!(resp["securityBits"].as_u64().unwrap() >= 96);
    let req = verify_request(&pi, &resp);
    let ok = handle("compliance-verify", &req).unwrap();
    assert_eq!(ok["valid"], true);

    // The same salt reproduces the same commitment (for re-proving).
    let again = handle(
        "compliance-prove",
        &json!({ "publicInputs": pi, "amount": "5000", "salt": resp["witnessSalt"], "witnessCommitment": resp["witnessCommitment"] }),
    )
    .unwrap();
    assert_eq!(again["witnessCommitment"], resp["witnessCommitment"]);

    // Any change to the public inputs: the public-inputs hash changes, verification fails.
    let mut r = req.clone();
    r["publicInputs"]["sequenceNumber"] = json!(43);
    r.as_object_mut().unwrap().remove("publicInputsHash");
    assert_eq!(
        code(handle("compliance-verify", &r)),
        ErrorCode::VerificationFailed
    );
    let mut r = req.clone();
    r["publicInputs"]["sequenceNumber"] = json!(43);
    assert_eq!(
        code(handle("compliance-verify", &r)),
        ErrorCode::PublicInputsHashMismatch
    );
    // Policy params changed without the policy hash, or with it recomputed.
    let mut r = req.clone();
    r["publicInputs"]["policyParams"]["threshold"] = json!("20000");
    assert_eq!(
        code(handle("compliance-verify", &r)),
        ErrorCode::PolicyHashMismatch
    );
    let mut r = req.clone();
    r["publicInputs"] = common::aml("20000", 42);
    r.as_object_mut().unwrap().remove("publicInputsHash");
    assert_eq!(
        code(handle("compliance-verify", &r)),
        ErrorCode::VerificationFailed
    );
    let mut r = req.clone();
    r["publicInputs"] = common::cap("10000", 42);
    r.as_object_mut().unwrap().remove("publicInputsHash");
    r.as_object_mut().unwrap().remove("programId");
    assert_eq!(
        code(handle("compliance-verify", &r)),
        ErrorCode::VerificationFailed
    );
    // Program id.
    let mut r = req.clone();
    let info = handle("info", &Value::Null).unwrap();
    r["programId"] = info["programs"]["order_total.cap"]["programId"].clone();
    assert_eq!(
        code(handle("compliance-verify", &r)),
        ErrorCode::ProgramIdMismatch
    );
    // Witness commitment.
    let mut r = req.clone();
    let other = handle(
        "compliance-prove",
        &json!({ "publicInputs": pi, "amount": "5000" }),
    )
    .unwrap();
    r["witnessCommitment"] = other["witnessCommitment"].clone();
    assert_eq!(
        code(handle("compliance-verify", &r)),
        ErrorCode::VerificationFailed
    );
    // Proof bytes and proof hash.
    let mut r = req.clone();
    r["proof"] = other["proof"].clone();
    assert_eq!(
        code(handle("compliance-verify", &r)),
        ErrorCode::ProofHashMismatch
    );
    r.as_object_mut().unwrap().remove("proofHash");
    assert_eq!(
        code(handle("compliance-verify", &r)),
        ErrorCode::VerificationFailed
    );
    let mut r = req.clone();
    r["proof"] = json!("not base64!");
    assert_eq!(
        code(handle("compliance-verify", &r)),
        ErrorCode::InvalidProofEncoding
    );
}

#[test]
fn order_total_cap_at_the_cap_and_false_statements() {
    let pi = common::cap("18446744073709551615", 7);
    let resp = handle(
        "compliance-prove",
        &json!({ "publicInputs": pi, "amount": "18446744073709551615" }),
    )
    .unwrap();
    assert_eq!(
        handle("compliance-verify", &verify_request(&pi, &resp)).unwrap()["valid"],
        true
    );

    let pi = common::cap("10000", 7);
    let e = handle(
        "compliance-prove",
        &json!({ "publicInputs": pi, "amount": "10001" }),
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::PolicyViolation);
    let pi = common::aml("10000", 7);
    assert_eq!(
        code(handle(
            "compliance-prove",
            &json!({ "publicInputs": pi, "amount": "10000" })
        )),
        ErrorCode::PolicyViolation
    );
}

#[test]
fn malformed_requests_have_stable_codes() {
    let pi = common::aml("10000", 1);
    let prove = |v: Value| code(handle("compliance-prove", &v));
    assert_eq!(
        prove(json!({ "publicInputs": pi, "amount": 5000 })),
        ErrorCode::InvalidAmount
    );
    assert_eq!(
        prove(json!({ "publicInputs": pi, "amount": "-1" })),
        ErrorCode::InvalidAmount
    );
    assert_eq!(
        prove(json!({ "publicInputs": pi, "amount": "18446744073709551616" })),
        ErrorCode::InvalidAmount
    );
    assert_eq!(
        prove(json!({ "publicInputs": pi })),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        prove(json!({ "publicInputs": pi, "amount": "1", "extra": 1 })),
        ErrorCode::InvalidRequest
    );
    assert_eq!(
        prove(json!({ "publicInputs": pi, "amount": "1", "salt": "zz" })),
        ErrorCode::InvalidSalt
    );
    let mut bad = pi.clone();
    bad["payloadPlainHash"] = json!("A".repeat(64));
    assert_eq!(
        prove(json!({ "publicInputs": bad, "amount": "1" })),
        ErrorCode::InvalidPublicInputs
    );
    let mut bad = pi.clone();
    bad["unknownField"] = json!(1);
    assert_eq!(
        prove(json!({ "publicInputs": bad, "amount": "1" })),
        ErrorCode::InvalidPublicInputs
    );
    let bad = common::public_inputs("kyc.age", "min", "18", 1);
    assert_eq!(
        prove(json!({ "publicInputs": bad, "amount": "1" })),
        ErrorCode::UnsupportedPolicy
    );
    let bad = common::public_inputs("aml.threshold", "cap", "18", 1);
    assert_eq!(
        prove(json!({ "publicInputs": bad, "amount": "1" })),
        ErrorCode::InvalidPolicyParams
    );
    assert_eq!(
        prove(
            json!({ "publicInputs": pi, "amount": "1", "witnessCommitment": format!("poseidon2:{}", "0".repeat(64)) })
        ),
        ErrorCode::WitnessCommitmentMismatch
    );
    assert_eq!(code(handle("nope", &json!({}))), ErrorCode::UnknownCommand);
    assert_eq!(
        code(handle("compliance-batch-prove", &json!({ "events": [] }))),
        ErrorCode::InvalidBatch
    );
}

#[test]
fn batch_over_json() {
    let events: Vec<Value> = (0..8u64)
        .map(|i| {
            let pi = if i % 2 == 0 {
                common::aml("10000", 100 + i)
            } else {
                common::cap("10000", 100 + i)
            };
            json!({ "publicInputs": pi, "amount": (9_000 + i * 100).to_string() })
        })
        .collect();
    let resp = handle("compliance-batch-prove", &json!({ "events": events })).unwrap();
    assert_eq!(resp["batchSize"], 8);
    let verify_events: Vec<Value> = events
        .iter()
        .zip(resp["events"].as_array().unwrap())
        .map(|(e, r)| json!({ "publicInputs": e["publicInputs"], "witnessCommitment": r["witnessCommitment"] }))
        .collect();
    let req = json!({
        "events": verify_events,
        "proof": resp["proof"],
        "proofHash": resp["proofHash"],
        "programId": resp["programId"],
        "batchDigest": resp["batchDigest"],
    });
    assert_eq!(
        handle("compliance-batch-verify", &req).unwrap()["valid"],
        true
    );
    for i in 0..8 {
        let mut r = req.clone();
        r.as_object_mut().unwrap().remove("batchDigest");
        r["events"][i]["publicInputs"]["sequenceNumber"] = json!(999);
        assert_eq!(
            code(handle("compliance-batch-verify", &r)),
            ErrorCode::VerificationFailed,
            "member {i}"
        );
    }
    let mut r = req.clone();
    r["events"][3]["publicInputs"]["eventId"] = json!("tampered");
    assert_eq!(
        code(handle("compliance-batch-verify", &r)),
        ErrorCode::BatchDigestMismatch
    );
}

#[test]
fn binary_protocol_and_exit_codes() {
    let (rc, info) = run_bin(&["info"], &Value::Null);
    assert_eq!(rc, 0);
    assert_eq!(info["engine"], "miden-vm");

    let pi = common::aml("10000", 5);
    let (rc, resp) = run_bin(
        &[
            "compliance-prove",
            "--timeout-ms",
            "60000",
            "--max-memory-mb",
            "4096",
        ],
        &json!({ "publicInputs": pi, "amount": "42" }),
    );
    assert_eq!(rc, 0, "{resp}");
    let (rc, ok) = run_bin(&["compliance-verify"], &verify_request(&pi, &resp));
    assert_eq!((rc, ok["valid"].clone()), (0, json!(true)));

    let (rc, err) = run_bin(
        &["compliance-prove"],
        &json!({ "publicInputs": pi, "amount": "10000" }),
    );
    assert_eq!(
        (rc, err["error"]["code"].clone()),
        (1, json!("POLICY_VIOLATION"))
    );
    let mut bad = verify_request(&pi, &resp);
    bad["publicInputs"]["sequenceNumber"] = json!(6);
    bad.as_object_mut().unwrap().remove("publicInputsHash");
    let (rc, err) = run_bin(&["compliance-verify"], &bad);
    assert_eq!(
        (rc, err["error"]["code"].clone()),
        (1, json!("VERIFICATION_FAILED"))
    );
    let (rc, err) = run_bin(&["compliance-prove"], &json!({ "amount": "1" }));
    assert_eq!(
        (rc, err["error"]["code"].clone()),
        (2, json!("INVALID_REQUEST"))
    );
    let (rc, err) = run_bin(&["frobnicate"], &json!({}));
    assert_eq!(
        (rc, err["error"]["code"].clone()),
        (2, json!("UNKNOWN_COMMAND"))
    );
    let (rc, err) = run_bin(&["info", "--timeout-ms", "x"], &json!({}));
    assert_eq!(
        (rc, err["error"]["code"].clone()),
        (2, json!("INVALID_ARGUMENT"))
    );

    // A prover held to 1 ms is stopped with TIMEOUT and exit code 124.
    let events: Vec<Value> = (0..64u64)
        .map(|i| json!({ "publicInputs": common::aml("10000", i), "amount": "1" }))
        .collect();
    let (rc, err) = run_bin(
        &["compliance-batch-prove", "--timeout-ms", "1"],
        &json!({ "events": events }),
    );
    assert_eq!((rc, err["error"]["code"].clone()), (124, json!("TIMEOUT")));
}
