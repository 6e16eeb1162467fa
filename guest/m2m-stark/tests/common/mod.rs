//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

use m2m_stark::public_inputs::compute_policy_hash;
use serde_json::{json, Map, Value};

/// Runs the `m2m-prover` binary with `args` and one JSON request on stdin; returns the exit code
/// and the JSON it printed.
pub fn run_bin(args: &[&str], stdin: &Value) -> (i32, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_m2m-prover"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let body = serde_json::to_vec(stdin).unwrap();
    // The child may exit before reading stdin (e.g. on a bad argument).
    let _ = child.stdin.take().unwrap().write_all(&body);
    let out = child.wait_with_output().unwrap();
    let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), value)
}

/// Public inputs of the seed design with a correct policy hash.
pub fn public_inputs(policy_id: &str, key: &str, limit: &str, seq: u64) -> Value {
    let params: Map<String, Value> = json!({ key: limit }).as_object().unwrap().clone();
    let policy_hash = hex::encode(compute_policy_hash(policy_id, &params).unwrap());
    json!({
        "eventId": "550e8400-e29b-41d4-a716-446655440000",
        "tenantId": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
        "storeId": "6ba7b811-9dad-11d1-80b4-00c04fd430c8",
        "sequenceNumber": seq,
        "payloadKind": 1,
        "payloadPlainHash": "a".repeat(64),
        "payloadCipherHash": "b".repeat(64),
        "eventSigningHash": "c".repeat(64),
        "policyId": policy_id,
        "policyParams": params,
        "policyHash": policy_hash,
    })
}

/// `aml.threshold` public inputs.
pub fn aml(threshold: &str, seq: u64) -> Value {
    public_inputs("aml.threshold", "threshold", threshold, seq)
}

/// `order_total.cap` public inputs.
pub fn cap(cap: &str, seq: u64) -> Value {
    public_inputs("order_total.cap", "cap", cap, seq)
}

/// Positions to flip in a proof of `len` bytes: a dense prefix, a stride, first/middle/last.
pub fn flip_positions(len: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..len.min(64)).collect();
    v.extend((64..len).step_by(97));
    v.extend([0, len / 2, len - 1, len - 2]);
    v.sort_unstable();
    v.dedup();
    v
}
