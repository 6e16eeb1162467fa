//! Typed errors with stable, machine-readable codes.

use std::fmt;

/// Stable error codes. The string form (UPPER_SNAKE) is part of the wire protocol of
/// `m2m-prover`; never rename a variant's code once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request JSON could not be read or does not have the expected shape.
    InvalidRequest,
    /// The first CLI argument is not a known command.
    UnknownCommand,
    /// The standard input is larger than the accepted maximum.
    RequestTooLarge,
    /// `amount` is not a decimal string of an unsigned 64-bit integer.
    InvalidAmount,
    /// A field of the public inputs is malformed.
    InvalidPublicInputs,
    /// `policyId` names a policy this prover does not implement.
    UnsupportedPolicy,
    /// `policyParams` is missing the limit or holds an invalid value.
    InvalidPolicyParams,
    /// `policyHash` does not equal the hash recomputed from `policyId` and `policyParams`.
    PolicyHashMismatch,
    /// The salt is not 32 bytes of hex encoding four canonical field elements.
    InvalidSalt,
    /// A witness commitment is malformed.
    InvalidWitnessCommitment,
    /// The witness commitment given does not open to the amount and salt given.
    WitnessCommitmentMismatch,
    /// The private amount does not satisfy the policy: the statement is false and no proof exists.
    PolicyViolation,
    /// The zkVM refused to execute the program on these inputs (the statement is false).
    ExecutionFailed,
    /// The STARK prover failed for a reason other than a false statement.
    ProvingFailed,
    /// The proof bytes are not valid base64 or do not decode to a Miden proof.
    InvalidProofEncoding,
    /// `proofHash` does not match sha256 of the proof bytes.
    ProofHashMismatch,
    /// The proof was produced with a hash function this verifier does not accept.
    UnsupportedProofHash,
    /// The expected `programId` differs from the program this verifier checks.
    ProgramIdMismatch,
    /// The expected `publicInputsHash` differs from the hash of the public inputs given.
    PublicInputsHashMismatch,
    /// The expected batch digest differs from the digest recomputed from the members.
    BatchDigestMismatch,
    /// The STARK proof does not verify against the statement.
    VerificationFailed,
    /// A batch is empty, too large, or malformed.
    InvalidBatch,
    /// The prover ran past its `--timeout-ms`.
    Timeout,
    /// A command-line option is malformed.
    InvalidArgument,
    /// A bug or an unexpected condition inside the prover.
    Internal,
    /// A plan program (MASM) does not parse or assemble (`M2M_PLAN_ASSEMBLY_FAILED`).
    PlanAssemblyFailed,
    /// A plan program failed for a reason other than a coded assertion
    /// (`M2M_PLAN_EXECUTION_FAILED`).
    PlanExecutionFailed,
    /// A plan program ran past its cycle or trace limit (`M2M_PLAN_CYCLE_LIMIT_EXCEEDED`).
    PlanCycleLimitExceeded,
    /// Plan stack inputs/outputs, advice values or limits are out of range
    /// (`M2M_PLAN_INVALID_INPUT`).
    PlanInvalidInput,
    /// A plan program failed a coded assertion: `assert.err="CODE: text"` with CODE matching
    /// `^[A-Z][A-Z0-9_]+$` (e.g. `EXEC_OVERFLOW`); the string is the CODE itself.
    Program(&'static str),
}

impl ErrorCode {
    /// The stable UPPER_SNAKE string of this code.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "INVALID_REQUEST",
            Self::UnknownCommand => "UNKNOWN_COMMAND",
            Self::RequestTooLarge => "REQUEST_TOO_LARGE",
            Self::InvalidAmount => "INVALID_AMOUNT",
            Self::InvalidPublicInputs => "INVALID_PUBLIC_INPUTS",
            Self::UnsupportedPolicy => "UNSUPPORTED_POLICY",
            Self::InvalidPolicyParams => "INVALID_POLICY_PARAMS",
            Self::PolicyHashMismatch => "POLICY_HASH_MISMATCH",
            Self::InvalidSalt => "INVALID_SALT",
            Self::InvalidWitnessCommitment => "INVALID_WITNESS_COMMITMENT",
            Self::WitnessCommitmentMismatch => "WITNESS_COMMITMENT_MISMATCH",
            Self::PolicyViolation => "POLICY_VIOLATION",
            Self::ExecutionFailed => "EXECUTION_FAILED",
            Self::ProvingFailed => "PROVING_FAILED",
            Self::InvalidProofEncoding => "INVALID_PROOF_ENCODING",
            Self::ProofHashMismatch => "PROOF_HASH_MISMATCH",
            Self::UnsupportedProofHash => "UNSUPPORTED_PROOF_HASH",
            Self::ProgramIdMismatch => "PROGRAM_ID_MISMATCH",
            Self::PublicInputsHashMismatch => "PUBLIC_INPUTS_HASH_MISMATCH",
            Self::BatchDigestMismatch => "BATCH_DIGEST_MISMATCH",
            Self::VerificationFailed => "VERIFICATION_FAILED",
            Self::InvalidBatch => "INVALID_BATCH",
            Self::Timeout => "TIMEOUT",
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::Internal => "INTERNAL_ERROR",
            Self::PlanAssemblyFailed => "M2M_PLAN_ASSEMBLY_FAILED",
            Self::PlanExecutionFailed => "M2M_PLAN_EXECUTION_FAILED",
            Self::PlanCycleLimitExceeded => "M2M_PLAN_CYCLE_LIMIT_EXCEEDED",
            Self::PlanInvalidInput => "M2M_PLAN_INVALID_INPUT",
            Self::Program(code) => code,
        }
    }

    /// Process exit code used by `m2m-prover` for this error class.
    ///
    /// * 1: the statement is false or the proof was rejected
    /// * 2: the request or its arguments are malformed
    /// * 3: internal failure of the prover
    /// * 124: timeout (same as coreutils `timeout`)
    pub const fn exit_code(self) -> i32 {
        match self {
            Self::PolicyViolation
            | Self::ExecutionFailed
            | Self::WitnessCommitmentMismatch
            | Self::ProofHashMismatch
            | Self::UnsupportedProofHash
            | Self::ProgramIdMismatch
            | Self::PublicInputsHashMismatch
            | Self::BatchDigestMismatch
            | Self::VerificationFailed
            | Self::InvalidProofEncoding
            | Self::PlanExecutionFailed
            | Self::PlanCycleLimitExceeded
            | Self::Program(_) => 1,
            Self::ProvingFailed | Self::Internal => 3,
            Self::Timeout => 124,
            _ => 2,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with a stable code and a message a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human-readable explanation, saying what to change where possible.
    pub message: String,
}

impl Error {
    /// Creates an error with the given code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Serializes this error as the wire object `{"error":{"code":..,"message":..}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "error": { "code": self.code.as_str(), "message": self.message }
        })
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;
