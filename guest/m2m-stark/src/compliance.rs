//! Single-event compliance statements: `aml.threshold` and `order_total.cap`.

use miden_core::{Felt, Word};
use miden_vm::crypto::hash::Poseidon2;

use crate::encoding::{digest_limbs, u64_limbs, word_from_u64s, FIELD_MODULUS};
use crate::engine::{self, EngineProof};
use crate::error::{Error, ErrorCode, Result};
use crate::policy::Policy;
use crate::programs::{Programs, COMMIT_TAG};

/// The private witness: the amount and the salt that blinds its commitment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Witness {
    /// The private amount.
    pub amount: u64,
    /// Four random field elements.
    pub salt: Word,
}

impl Witness {
    /// A witness with a fresh random salt.
    pub fn new(amount: u64) -> Result<Self> {
        Ok(Self {
            amount,
            salt: random_salt()?,
        })
    }

    /// `Poseidon2.merge([amount_lo, amount_hi, COMMIT_TAG, 0], salt)`.
    pub fn commitment(&self) -> Word {
        commit(self.amount, &self.salt)
    }

    /// Advice stack contents consumed by `check_event`.
    pub(crate) fn advice(&self) -> Vec<Felt> {
        let (lo, hi) = u64_limbs(self.amount);
        let mut v = vec![hi, lo];
        v.extend_from_slice(self.salt.as_elements());
        v
    }
}

/// Witness commitment of an amount under a salt.
pub fn commit(amount: u64, salt: &Word) -> Word {
    let (lo, hi) = u64_limbs(amount);
    let tag = Felt::new(COMMIT_TAG).expect("COMMIT_TAG is canonical");
    let zero = Felt::from_u32(0);
    Poseidon2::merge(&[Word::new([lo, hi, tag, zero]), *salt])
}

/// Four uniformly random canonical field elements from the operating system's generator.
pub fn random_salt() -> Result<Word> {
    let mut out = [0u64; 4];
    for slot in out.iter_mut() {
        loop {
            let mut b = [0u8; 8];
            getrandom::fill(&mut b).map_err(|e| {
                Error::new(
                    ErrorCode::Internal,
                    format!("the OS random generator failed: {e}"),
                )
            })?;
            let v = u64::from_le_bytes(b);
            if v < FIELD_MODULUS {
                *slot = v;
                break;
            }
        }
    }
    Ok(word_from_u64s(out).expect("values are canonical"))
}

/// The public statement of a single-event compliance proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement {
    /// Which policy (selects the program).
    pub policy: Policy,
    /// sha256 of the canonical public inputs.
    pub public_inputs_hash: [u8; 32],
    /// The threshold (`aml.threshold`) or cap (`order_total.cap`).
    pub limit: u64,
    /// Commitment to the private amount.
    pub witness_commitment: Word,
}

impl Statement {
    /// `[C0..C3, T_lo, T_hi, code, 0, h0..h7]`, top of the stack first.
    pub fn stack_inputs(&self) -> Vec<Felt> {
        let (lo, hi) = u64_limbs(self.limit);
        let mut v = self.witness_commitment.as_elements().to_vec();
        v.extend([
            lo,
            hi,
            Felt::from_u32(self.policy.code()),
            Felt::from_u32(0),
        ]);
        v.extend(digest_limbs(&self.public_inputs_hash));
        v
    }

    /// `[h0..h7, 0 x 8]`, top of the stack first.
    pub fn stack_outputs(&self) -> Vec<Felt> {
        let mut v = digest_limbs(&self.public_inputs_hash).to_vec();
        v.resize(16, Felt::from_u32(0));
        v
    }

    /// The MAST root of the program that proves this statement.
    pub fn program_hash(&self) -> Word {
        Programs::get().single(self.policy).hash()
    }
}

/// Proves a statement. Refuses (typed error, no proof) when the witness does not open the
/// commitment or the amount does not satisfy the policy.
pub fn prove(statement: &Statement, witness: &Witness) -> Result<EngineProof> {
    if witness.commitment() != statement.witness_commitment {
        return Err(Error::new(
            ErrorCode::WitnessCommitmentMismatch,
            "the witness commitment does not open to this amount and salt; pass the salt used to create it",
        ));
    }
    check_policy(statement.policy, witness.amount, statement.limit, "")?;
    prove_unchecked(statement, witness)
}

/// Host-side check that the statement is true, so a false one fails with a clear error before
/// the VM runs (the VM refuses it too). `context` prefixes the message, e.g. "event 3: ".
pub(crate) fn check_policy(policy: Policy, amount: u64, limit: u64, context: &str) -> Result<()> {
    if policy.holds(amount, limit) {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::PolicyViolation,
        format!(
            "{context}{}: the amount does not satisfy {} (limit {limit}); a false statement cannot be proven",
            policy.id(),
            policy.relation(),
        ),
    ))
}

/// Runs the zkVM prover without the host-side checks of [`prove`]. Used by tests to show that
/// the VM itself refuses false statements; production code calls [`prove`].
#[doc(hidden)]
pub fn prove_unchecked(statement: &Statement, witness: &Witness) -> Result<EngineProof> {
    let program = Programs::get().single(statement.policy);
    engine::prove(program, &statement.stack_inputs(), witness.advice())
}

/// Verifies a proof of `statement` against the program of its policy.
pub fn verify(statement: &Statement, proof: &[u8]) -> Result<u32> {
    verify_with_program(statement, proof, statement.program_hash())
}

/// Verifies a proof of `statement` against an explicit program hash.
pub fn verify_with_program(statement: &Statement, proof: &[u8], program_hash: Word) -> Result<u32> {
    engine::verify(
        program_hash,
        &statement.stack_inputs(),
        &statement.stack_outputs(),
        proof,
    )
}
