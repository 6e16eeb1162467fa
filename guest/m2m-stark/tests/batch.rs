//! Batch proofs over N events.

use m2m_stark::batch::{self, Member};
use m2m_stark::compliance::{self, Witness};
use m2m_stark::encoding::{word_from_u64s, word_u64s};
use m2m_stark::programs::Programs;
use m2m_stark::{ErrorCode, Policy};

fn batch_of(n: usize) -> (Vec<Member>, Vec<Witness>) {
    let witnesses: Vec<Witness> = (0..n)
        .map(|i| Witness::new(1_000 * (i as u64 + 1)).unwrap())
        .collect();
    let members = witnesses
        .iter()
        .enumerate()
        .map(|(i, w)| Member {
            policy: if i % 2 == 0 {
                Policy::AmlThreshold
            } else {
                Policy::OrderTotalCap
            },
            public_inputs_hash: [i as u8 + 1; 32],
            // Odd members sit exactly at their cap.
            limit: if i % 2 == 0 {
                1_000 * (i as u64 + 1) + 1
            } else {
                1_000 * (i as u64 + 1)
            },
            witness_commitment: w.commitment(),
        })
        .collect();
    (members, witnesses)
}

#[test]
fn batch_of_8_proves_verifies_and_rejects_any_tampered_member() {
    let (members, witnesses) = batch_of(8);
    let proof = batch::prove(&members, &witnesses).unwrap();
    assert_eq!(batch::verify(&members, &proof.bytes).unwrap(), 96);

    for i in 0..members.len() {
        let mut tampered = members.clone();
        tampered[i].limit += 1;
        assert_eq!(
            batch::verify(&tampered, &proof.bytes).unwrap_err().code,
            ErrorCode::VerificationFailed
        );

        let mut tampered = members.clone();
        tampered[i].public_inputs_hash[i] ^= 0x40;
        assert_eq!(
            batch::verify(&tampered, &proof.bytes).unwrap_err().code,
            ErrorCode::VerificationFailed
        );

        let mut tampered = members.clone();
        let mut c = word_u64s(&tampered[i].witness_commitment);
        c[0] ^= 1;
        tampered[i].witness_commitment = word_from_u64s(c).unwrap();
        assert_eq!(
            batch::verify(&tampered, &proof.bytes).unwrap_err().code,
            ErrorCode::VerificationFailed
        );

        let mut tampered = members.clone();
        tampered[i].policy = if tampered[i].policy == Policy::AmlThreshold {
            Policy::OrderTotalCap
        } else {
            Policy::AmlThreshold
        };
        assert_eq!(
            batch::verify(&tampered, &proof.bytes).unwrap_err().code,
            ErrorCode::VerificationFailed
        );
    }
    // Order, membership and count are bound.
    let mut swapped = members.clone();
    swapped.swap(2, 5);
    assert!(batch::verify(&swapped, &proof.bytes).is_err());
    assert!(batch::verify(&members[..7], &proof.bytes).is_err());
    let mut extra = members.clone();
    extra.push(members[0]);
    assert!(batch::verify(&extra, &proof.bytes).is_err());
    // Another program id.
    let other = Programs::get().single(Policy::AmlThreshold).hash();
    assert!(batch::verify_with_program(&members, &proof.bytes, other).is_err());
    // Byte flips.
    for i in [
        0,
        1,
        proof.bytes.len() / 3,
        proof.bytes.len() / 2,
        proof.bytes.len() - 1,
    ] {
        let mut p = proof.bytes.clone();
        p[i] ^= 1;
        assert!(batch::verify(&members, &p).is_err(), "flip at {i}");
    }
}

#[test]
fn batch_with_one_false_member_cannot_be_proven() {
    let (mut members, mut witnesses) = batch_of(8);
    // Member 3 (order_total.cap) goes one over its cap.
    witnesses[3] = Witness {
        amount: members[3].limit + 1,
        salt: witnesses[3].salt,
    };
    members[3].witness_commitment = witnesses[3].commitment();
    let err = batch::prove(&members, &witnesses).unwrap_err();
    assert_eq!(err.code, ErrorCode::PolicyViolation);
    assert!(err.message.contains("event 3"), "{}", err.message);
    assert_eq!(
        batch::prove_unchecked(&members, &witnesses)
            .unwrap_err()
            .code,
        ErrorCode::ExecutionFailed
    );
    // Member 0 (aml.threshold) equal to its threshold.
    let (mut members, mut witnesses) = batch_of(8);
    witnesses[0] = Witness {
        amount: members[0].limit,
        salt: witnesses[0].salt,
    };
    members[0].witness_commitment = witnesses[0].commitment();
    assert_eq!(
        batch::prove_unchecked(&members, &witnesses)
            .unwrap_err()
            .code,
        ErrorCode::ExecutionFailed
    );
}

#[test]
fn single_event_batch_and_empty_batch() {
    let (members, witnesses) = batch_of(1);
    let proof = batch::prove(&members, &witnesses).unwrap();
    assert!(batch::verify(&members, &proof.bytes).is_ok());
    assert_eq!(
        batch::prove(&[], &[]).unwrap_err().code,
        ErrorCode::InvalidBatch
    );
    assert_eq!(
        batch::verify(&[], &proof.bytes).unwrap_err().code,
        ErrorCode::InvalidBatch
    );
    // A single-event proof is not a batch proof and vice versa.
    let w = Witness::new(1).unwrap();
    let s = compliance::Statement {
        policy: Policy::AmlThreshold,
        public_inputs_hash: [1; 32],
        limit: 2,
        witness_commitment: w.commitment(),
    };
    let single = compliance::prove(&s, &w).unwrap();
    assert!(batch::verify(&members, &single.bytes).is_err());
    assert!(compliance::verify(&s, &proof.bytes).is_err());
}
