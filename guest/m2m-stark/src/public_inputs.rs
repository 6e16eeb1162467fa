//! Canonical public inputs of a compliance proof (seed design, camelCase JSON) and their hashes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::encoding::{hex32, parse_u64_decimal};
use crate::error::{Error, ErrorCode, Result};
use crate::policy::Policy;

/// Domain separator of the policy hash (same label as the seed design's reference prover).
pub const DOMAIN_POLICY_HASH: &[u8] = b"STATESET_VES_COMPLIANCE_POLICY_HASH_V1";

/// Largest integer JSON number accepted (RFC 8785 numbers are IEEE-754 doubles).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Public inputs of one event's compliance proof.
///
/// `witnessCommitment` is optional and, as in the seed design, excluded from
/// [`CompliancePublicInputs::hash`]: the commitment is carried next to the proof and bound to
/// the STARK statement directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompliancePublicInputs {
    /// Event id (the seed design uses a UUID string).
    pub event_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Store id.
    pub store_id: String,
    /// Sequence number assigned by the sequencer (JSON integer, at most 2^53 - 1).
    pub sequence_number: u64,
    /// Payload kind discriminator.
    pub payload_kind: u32,
    /// sha256 of the plaintext payload, 64 lowercase hex.
    pub payload_plain_hash: String,
    /// sha256 of the ciphertext payload, 64 lowercase hex.
    pub payload_cipher_hash: String,
    /// VES event signing hash, 64 lowercase hex.
    pub event_signing_hash: String,
    /// `aml.threshold` or `order_total.cap`.
    pub policy_id: String,
    /// `{"threshold": "<u64>"}` or `{"cap": "<u64>"}` (decimal string; a JSON integer up to
    /// 2^53 - 1 is accepted as well).
    pub policy_params: Map<String, Value>,
    /// sha256(DOMAIN_POLICY_HASH || JCS({policyId, policyParams})), 64 lowercase hex.
    pub policy_hash: String,
    /// Optional witness commitment (`poseidon2:<64 hex>`); excluded from the hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness_commitment: Option<String>,
}

/// The parts of validated public inputs that enter the STARK statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidatedInputs {
    /// The policy named by `policyId`.
    pub policy: Policy,
    /// The threshold or cap from `policyParams`.
    pub limit: u64,
    /// sha256 of the RFC 8785 canonical JSON of the public inputs (without `witnessCommitment`).
    pub hash: [u8; 32],
}

fn invalid(message: String) -> Error {
    Error::new(ErrorCode::InvalidPublicInputs, message)
}

/// RFC 8785 canonical JSON text of a value.
pub fn canonical_json(value: &Value) -> Result<String> {
    serde_json_canonicalizer::to_string(value).map_err(|e| {
        Error::new(
            ErrorCode::Internal,
            format!("JCS canonicalization failed: {e}"),
        )
    })
}

/// sha256 of bytes.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Policy hash: sha256(DOMAIN_POLICY_HASH || JCS({"policyId": id, "policyParams": params})).
pub fn compute_policy_hash(
    policy_id: &str,
    policy_params: &Map<String, Value>,
) -> Result<[u8; 32]> {
    let obj = serde_json::json!({ "policyId": policy_id, "policyParams": policy_params });
    let canonical = canonical_json(&obj)?;
    let mut h = Sha256::new();
    h.update(DOMAIN_POLICY_HASH);
    h.update(canonical.as_bytes());
    Ok(h.finalize().into())
}

/// Reads the policy limit (`threshold` or `cap`) from the params object.
pub fn policy_limit(policy: Policy, params: &Map<String, Value>) -> Result<u64> {
    let key = policy.param_key();
    let err = |m: String| Error::new(ErrorCode::InvalidPolicyParams, m);
    if let Some(extra) = params.keys().find(|k| k.as_str() != key) {
        return Err(err(format!(
            "policyParams for {} accepts only the key \"{key}\"; remove \"{extra}\"",
            policy.id()
        )));
    }
    match params.get(key) {
        None => Err(err(format!(
            "policyParams for {} must contain \"{key}\" as a decimal string, e.g. {{\"{key}\": \"10000\"}}",
            policy.id()
        ))),
        Some(Value::String(s)) => {
            parse_u64_decimal(s, ErrorCode::InvalidPolicyParams, &format!("policyParams.{key}"))
        }
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v <= MAX_SAFE_INTEGER => Ok(v),
            _ => Err(err(format!(
                "policyParams.{key} must be a decimal string (or a JSON integer in 0..=2^53-1), got {n}"
            ))),
        },
        Some(other) => Err(err(format!(
            "policyParams.{key} must be a decimal string such as \"10000\", got {other}"
        ))),
    }
}

impl CompliancePublicInputs {
    /// Parses public inputs from a JSON value (unknown keys are rejected).
    pub fn from_value(value: &Value) -> Result<Self> {
        serde_json::from_value(value.clone()).map_err(|e| {
            invalid(format!(
                "publicInputs does not match the expected object: {e}"
            ))
        })
    }

    /// The JSON object that is hashed: all fields except `witnessCommitment`.
    pub fn hashed_value(&self) -> Result<Value> {
        let mut copy = self.clone();
        copy.witness_commitment = None;
        serde_json::to_value(&copy).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))
    }

    /// sha256 of the RFC 8785 canonical JSON of [`Self::hashed_value`].
    pub fn hash(&self) -> Result<[u8; 32]> {
        Ok(sha256(canonical_json(&self.hashed_value()?)?.as_bytes()))
    }

    /// Checks every field and returns what the STARK statement needs.
    pub fn validate(&self) -> Result<ValidatedInputs> {
        for (name, v) in [
            ("eventId", &self.event_id),
            ("tenantId", &self.tenant_id),
            ("storeId", &self.store_id),
        ] {
            if v.is_empty() || v.len() > 256 || !v.bytes().all(|b| (0x21..0x7f).contains(&b)) {
                return Err(invalid(format!(
                    "{name} must be 1 to 256 printable ASCII characters without spaces (a UUID in the seed design), got {v:?}"
                )));
            }
        }
        if self.sequence_number > MAX_SAFE_INTEGER {
            return Err(invalid(format!(
                "sequenceNumber {} exceeds 2^53 - 1, the largest integer RFC 8785 JSON can carry exactly",
                self.sequence_number
            )));
        }
        for (name, v) in [
            ("payloadPlainHash", &self.payload_plain_hash),
            ("payloadCipherHash", &self.payload_cipher_hash),
            ("eventSigningHash", &self.event_signing_hash),
            ("policyHash", &self.policy_hash),
        ] {
            hex32(v, ErrorCode::InvalidPublicInputs, name)?;
        }
        let policy = Policy::from_id(&self.policy_id)?;
        let limit = policy_limit(policy, &self.policy_params)?;
        let expected = hex::encode(compute_policy_hash(&self.policy_id, &self.policy_params)?);
        if expected != self.policy_hash {
            return Err(Error::new(
                ErrorCode::PolicyHashMismatch,
                format!(
                    "policyHash {} does not match sha256(\"STATESET_VES_COMPLIANCE_POLICY_HASH_V1\" || JCS({{policyId, policyParams}})) = {expected}",
                    self.policy_hash
                ),
            ));
        }
        Ok(ValidatedInputs {
            policy,
            limit,
            hash: self.hash()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jcs_sorts_keys() {
        let v = serde_json::json!({"b": 1, "a": {"d": "x", "c": 2}});
        assert_eq!(
            canonical_json(&v).unwrap(),
            r#"{"a":{"c":2,"d":"x"},"b":1}"#
        );
    }

    #[test]
    fn limit_parsing() {
        let p = Policy::AmlThreshold;
        let m = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            policy_limit(p, &m(serde_json::json!({"threshold": "10000"}))).unwrap(),
            10000
        );
        assert_eq!(
            policy_limit(p, &m(serde_json::json!({"threshold": 10000}))).unwrap(),
            10000
        );
        assert!(policy_limit(p, &m(serde_json::json!({"cap": "1"}))).is_err());
        assert!(policy_limit(p, &m(serde_json::json!({"threshold": "1", "x": 1}))).is_err());
        assert!(policy_limit(p, &m(serde_json::json!({"threshold": -1}))).is_err());
        assert!(policy_limit(p, &m(serde_json::json!({"threshold": 1.5}))).is_err());
    }
}
