//! Batch compliance statements over N events, proven by one run of the batch program.

use miden_core::{Felt, Word};
use miden_vm::crypto::hash::Poseidon2;

use crate::compliance::Witness;
use crate::encoding::{digest_words, u64_limbs};
use crate::engine::{self, EngineProof};
use crate::error::{Error, ErrorCode, Result};
use crate::policy::Policy;
use crate::programs::{Programs, BATCH_TAG, MAX_BATCH};

/// The public part of one batch member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Policy of this event.
    pub policy: Policy,
    /// sha256 of the event's canonical public inputs.
    pub public_inputs_hash: [u8; 32],
    /// Threshold or cap.
    pub limit: u64,
    /// Commitment to the event's private amount.
    pub witness_commitment: Word,
}

impl Member {
    fn w3(&self) -> Word {
        let (lo, hi) = u64_limbs(self.limit);
        Word::new([
            lo,
            hi,
            Felt::from_u32(self.policy.code()),
            Felt::from_u32(0),
        ])
    }
}

fn check_size(n: usize) -> Result<()> {
    if n == 0 || n > MAX_BATCH {
        return Err(Error::new(
            ErrorCode::InvalidBatch,
            format!("a batch holds 1 to {MAX_BATCH} events, got {n}"),
        ));
    }
    Ok(())
}

/// The batch digest: a Poseidon2 fold over every member's public data, in order.
pub fn digest(members: &[Member]) -> Word {
    let zero = Felt::from_u32(0);
    let n = Felt::from_u32(members.len() as u32);
    let mut acc = Word::new([n, Felt::new(BATCH_TAG).expect("canonical"), zero, zero]);
    for m in members {
        let (w1, w2) = digest_words(&m.public_inputs_hash);
        for w in [m.w3(), m.witness_commitment, w1, w2] {
            acc = Poseidon2::merge(&[acc, w]);
        }
    }
    acc
}

fn stack_inputs(members: &[Member]) -> Vec<Felt> {
    let mut v = digest(members).as_elements().to_vec();
    v.push(Felt::from_u32(members.len() as u32));
    v
}

fn stack_outputs(members: &[Member]) -> Vec<Felt> {
    let mut v = vec![Felt::from_u32(members.len() as u32)];
    v.resize(16, Felt::from_u32(0));
    v
}

/// Proves that every member's private amount opens its commitment and satisfies its policy.
pub fn prove(members: &[Member], witnesses: &[Witness]) -> Result<EngineProof> {
    check_size(members.len())?;
    if members.len() != witnesses.len() {
        return Err(Error::new(
            ErrorCode::InvalidBatch,
            format!(
                "{} members but {} witnesses",
                members.len(),
                witnesses.len()
            ),
        ));
    }
    for (i, (m, w)) in members.iter().zip(witnesses).enumerate() {
        if w.commitment() != m.witness_commitment {
            return Err(Error::new(
                ErrorCode::WitnessCommitmentMismatch,
                format!("event {i}: the witness commitment does not open to this amount and salt"),
            ));
        }
        crate::compliance::check_policy(m.policy, w.amount, m.limit, &format!("event {i}: "))?;
    }
    prove_unchecked(members, witnesses)
}

/// Runs the zkVM prover without host-side checks (tests only).
#[doc(hidden)]
pub fn prove_unchecked(members: &[Member], witnesses: &[Witness]) -> Result<EngineProof> {
    check_size(members.len())?;
    let mut advice = Vec::with_capacity(members.len() * 22);
    for (m, w) in members.iter().zip(witnesses) {
        let (w1, w2) = digest_words(&m.public_inputs_hash);
        advice.extend_from_slice(m.w3().as_elements());
        advice.extend_from_slice(m.witness_commitment.as_elements());
        advice.extend(w.advice());
        advice.extend_from_slice(w1.as_elements());
        advice.extend_from_slice(w2.as_elements());
    }
    engine::prove(Programs::get().batch(), &stack_inputs(members), advice)
}

/// Verifies a batch proof against the members' public data.
pub fn verify(members: &[Member], proof: &[u8]) -> Result<u32> {
    verify_with_program(members, proof, Programs::get().batch().hash())
}

/// Verifies a batch proof against an explicit program hash.
pub fn verify_with_program(members: &[Member], proof: &[u8], program_hash: Word) -> Result<u32> {
    check_size(members.len())?;
    engine::verify(
        program_hash,
        &stack_inputs(members),
        &stack_outputs(members),
        proof,
    )
}
