//! Soundness and completeness of single-event compliance proofs (library level).

mod common;

use m2m_stark::compliance::{self, prove_unchecked, Statement, Witness};
use m2m_stark::encoding::word_from_u64s;
use m2m_stark::programs::Programs;
use m2m_stark::{ErrorCode, Policy};

fn statement(policy: Policy, limit: u64, w: &Witness) -> Statement {
    Statement {
        policy,
        public_inputs_hash: [0x5a; 32],
        limit,
        witness_commitment: w.commitment(),
    }
}

fn prove_ok(policy: Policy, amount: u64, limit: u64) -> (Statement, Vec<u8>) {
    let w = Witness::new(amount).unwrap();
    let s = statement(policy, limit, &w);
    let p =
        compliance::prove(&s, &w).unwrap_or_else(|e| panic!("{policy:?} {amount} {limit}: {e}"));
    assert_eq!(compliance::verify(&s, &p.bytes).unwrap(), 96);
    (s, p.bytes)
}

#[test]
fn honest_proofs_verify_at_the_edges() {
    const HI: u64 = 1 << 32;
    for (amount, threshold) in [
        (5_000, 10_000),
        (0, 1),
        (9_999, 10_000),
        (HI - 1, HI),
        (HI, HI + 1),
        (u64::MAX - 1, u64::MAX),
        (5, HI + 3),
    ] {
        prove_ok(Policy::AmlThreshold, amount, threshold);
    }
    for (amount, cap) in [
        (5_000, 10_000),
        (10_000, 10_000),
        (0, 0),
        (HI, HI),
        (u64::MAX, u64::MAX),
        (HI - 1, HI),
    ] {
        prove_ok(Policy::OrderTotalCap, amount, cap);
    }
}

#[test]
fn false_statements_cannot_be_proven() {
    const HI: u64 = 1 << 32;
    let aml_false = [
        (10_000, 10_000),
        (10_001, 10_000),
        (HI, HI - 1),
        (HI + 5, HI + 5),
        (u64::MAX, 0),
        (1, 0),
    ];
    let cap_false = [
        (10_001, 10_000),
        (1, 0),
        (HI, HI - 1),
        (HI + 1, HI),
        (u64::MAX, u64::MAX - 1),
        (2 * HI, HI + 7),
    ];
    for (policy, cases) in [
        (Policy::AmlThreshold, &aml_false[..]),
        (Policy::OrderTotalCap, &cap_false[..]),
    ] {
        for &(amount, limit) in cases {
            let w = Witness::new(amount).unwrap();
            let s = statement(policy, limit, &w);
            // The prover refuses with a typed error...
            let err = compliance::prove(&s, &w).unwrap_err();
            assert_eq!(
                err.code,
                ErrorCode::PolicyViolation,
                "{policy:?} {amount} {limit}"
            );
            // ...and so does the zkVM itself when the host-side check is skipped.
            let err = prove_unchecked(&s, &w).unwrap_err();
            assert_eq!(
                err.code,
                ErrorCode::ExecutionFailed,
                "{policy:?} {amount} {limit}: {err}"
            );
        }
    }
}

#[test]
fn wrong_witness_cannot_be_proven() {
    let w = Witness::new(5_000).unwrap();
    let mut s = statement(Policy::AmlThreshold, 10_000, &w);
    // Commitment to a different amount under the same salt.
    s.witness_commitment = compliance::commit(4_000, &w.salt);
    assert_eq!(
        compliance::prove(&s, &w).unwrap_err().code,
        ErrorCode::WitnessCommitmentMismatch
    );
    assert_eq!(
        prove_unchecked(&s, &w).unwrap_err().code,
        ErrorCode::ExecutionFailed
    );
}

#[test]
fn no_forged_proof_verifies_for_a_false_statement() {
    // An honest proof of 5000 < 10000 does not verify as a proof of any statement whose
    // threshold the amount violates, nor under the other policy's program.
    let (s, proof) = prove_ok(Policy::AmlThreshold, 5_000, 10_000);
    for limit in [5_000, 4_999, 0, 10_001, u64::MAX] {
        let forged = Statement { limit, ..s };
        assert_eq!(
            compliance::verify(&forged, &proof).unwrap_err().code,
            ErrorCode::VerificationFailed
        );
    }
    let as_cap = Statement {
        policy: Policy::OrderTotalCap,
        ..s
    };
    assert_eq!(
        compliance::verify(&as_cap, &proof).unwrap_err().code,
        ErrorCode::VerificationFailed
    );
    // A proof for an unrelated (true) statement does not transfer.
    let (s2, proof2) = prove_ok(Policy::AmlThreshold, 1, 2);
    assert!(compliance::verify(&s, &proof2).is_err());
    assert!(compliance::verify(&s2, &proof).is_err());
}

#[test]
fn changing_any_public_input_fails() {
    let (s, proof) = prove_ok(Policy::OrderTotalCap, 7_777, 8_000);
    let fail = |t: &Statement| {
        let e = compliance::verify(t, &proof).unwrap_err();
        assert_eq!(e.code, ErrorCode::VerificationFailed, "{e}");
    };
    fail(&Statement { limit: 8_001, ..s });
    fail(&Statement { limit: 7_999, ..s });
    fail(&Statement {
        limit: 8_000 + (1 << 32),
        ..s
    });
    for byte in [0usize, 13, 31] {
        let mut h = s.public_inputs_hash;
        h[byte] ^= 1;
        fail(&Statement {
            public_inputs_hash: h,
            ..s
        });
    }
    let mut c = m2m_stark::encoding::word_u64s(&s.witness_commitment);
    c[2] ^= 1;
    fail(&Statement {
        witness_commitment: word_from_u64s(c).unwrap(),
        ..s
    });
    // Program id: the other policy's program, the batch program, and an arbitrary root.
    let programs = Programs::get();
    for program in [
        programs.single(Policy::AmlThreshold).hash(),
        programs.batch().hash(),
        word_from_u64s([1, 2, 3, 4]).unwrap(),
    ] {
        let e = compliance::verify_with_program(&s, &proof, program).unwrap_err();
        assert_eq!(e.code, ErrorCode::VerificationFailed);
    }
    assert!(compliance::verify_with_program(
        &s,
        &proof,
        programs.single(Policy::OrderTotalCap).hash()
    )
    .is_ok());
}

#[test]
fn every_sampled_byte_flip_fails() {
    let (s, proof) = prove_ok(Policy::AmlThreshold, 123, 456);
    let positions = common::flip_positions(proof.len());
    assert!(
        positions.contains(&0)
            && positions.contains(&(proof.len() / 2))
            && positions.contains(&(proof.len() - 1))
    );
    for &i in &positions {
        for mask in [0x01u8, 0x80] {
            let mut p = proof.clone();
            p[i] ^= mask;
            assert!(
                compliance::verify(&s, &p).is_err(),
                "flip {mask:#x} at byte {i} of {} still verifies",
                p.len()
            );
        }
    }
    // Truncation and extension are rejected too.
    assert!(compliance::verify(&s, &proof[..proof.len() - 1]).is_err());
    let mut longer = proof.clone();
    longer.push(0);
    assert!(compliance::verify(&s, &longer).is_err());
    assert!(compliance::verify(&s, &[]).is_err());
}

/// Flips every byte of one proof (slow: about a minute). `cargo test --release -- --ignored`.
#[test]
#[ignore]
fn every_byte_flip_fails_exhaustive() {
    let (s, proof) = prove_ok(Policy::OrderTotalCap, 1_000, 1_000);
    for i in 0..proof.len() {
        let mut p = proof.clone();
        p[i] ^= 0x01;
        assert!(
            compliance::verify(&s, &p).is_err(),
            "flip at byte {i} still verifies"
        );
    }
}
