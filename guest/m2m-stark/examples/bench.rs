//! Measures prove/verify medians and proof sizes on this machine.
//! `cargo run --release --example bench -- [iterations] [batch_size]`

use std::time::Instant;

use m2m_stark::batch::{self, Member};
use m2m_stark::compliance::{self, Statement, Witness};
use m2m_stark::programs::Programs;
use m2m_stark::Policy;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let iters: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let batch_n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);

    let t = Instant::now();
    for policy in Policy::ALL {
        let _ = Programs::get().single(policy);
    }
    let _ = Programs::get().batch();
    let assemble_ms = t.elapsed().as_secs_f64() * 1e3;

    let mut out = serde_json::Map::new();
    out.insert("assembleProgramsMs".into(), assemble_ms.into());
    for policy in Policy::ALL {
        let mut prove_ms = Vec::new();
        let mut verify_ms = Vec::new();
        let mut size = 0;
        let mut bits = 0;
        for _ in 0..iters {
            // A fresh salt per iteration: proof-of-work grinding time depends on the transcript.
            let witness = Witness::new(5_000).unwrap();
            let statement = Statement {
                policy,
                public_inputs_hash: [7u8; 32],
                limit: 10_000,
                witness_commitment: witness.commitment(),
            };
            let t = Instant::now();
            let proof = compliance::prove(&statement, &witness).unwrap();
            prove_ms.push(t.elapsed().as_secs_f64() * 1e3);
            size = proof.bytes.len();
            let t = Instant::now();
            bits = compliance::verify(&statement, &proof.bytes).unwrap();
            verify_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        out.insert(
            policy.id().into(),
            serde_json::json!({
                "iterations": iters,
                "proveMedianMs": median(prove_ms.clone()),
                "proveMinMs": prove_ms.iter().cloned().fold(f64::MAX, f64::min),
                "proveMaxMs": prove_ms.iter().cloned().fold(0.0, f64::max),
                "verifyMedianMs": median(verify_ms.clone()),
                "verifyMinMs": verify_ms.iter().cloned().fold(f64::MAX, f64::min),
                "proofBytes": size,
                "securityBits": bits,
            }),
        );
    }
    let witnesses: Vec<Witness> = (0..batch_n)
        .map(|i| Witness::new(1_000 + i as u64).unwrap())
        .collect();
    let members: Vec<Member> = witnesses
        .iter()
        .enumerate()
        .map(|(i, w)| Member {
            policy: if i % 2 == 0 {
                Policy::AmlThreshold
            } else {
                Policy::OrderTotalCap
            },
            public_inputs_hash: [i as u8; 32],
            limit: 10_000,
            witness_commitment: w.commitment(),
        })
        .collect();
    let mut prove_ms = Vec::new();
    let mut verify_ms = Vec::new();
    let mut size = 0;
    for _ in 0..iters.clamp(1, 5) {
        let t = Instant::now();
        let proof = batch::prove(&members, &witnesses).unwrap();
        prove_ms.push(t.elapsed().as_secs_f64() * 1e3);
        size = proof.bytes.len();
        let t = Instant::now();
        batch::verify(&members, &proof.bytes).unwrap();
        verify_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    out.insert(
        "batch".into(),
        serde_json::json!({
            "events": batch_n,
            "proveMedianMs": median(prove_ms),
            "verifyMedianMs": median(verify_ms),
            "proofBytes": size,
        }),
    );
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}
