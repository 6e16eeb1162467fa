//! The JSON protocol of the `m2m-prover` child process: one request in, one response out.

use std::time::Instant;

use base64::Engine as _;
use miden_core::Word;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::batch::{self, Member};
use crate::compliance::{self, Statement, Witness};
use crate::encoding::{parse_u64_decimal, strip_scheme, word_from_hex, word_to_hex};
use crate::engine::{params, EngineProof, PROOF_HASH};
use crate::error::{Error, ErrorCode, Result};
use crate::plan;
use crate::policy::Policy;
use crate::programs::{program_id, Programs, MAX_BATCH, NATIVE_HASH_SCHEME};
use crate::public_inputs::{sha256, CompliancePublicInputs};

/// Name of the proving engine.
pub const ENGINE: &str = "miden-vm";
/// Exact engine version this crate pins.
pub const ENGINE_VERSION: &str = "0.23.5";
/// Proof type tag of single-event proofs.
pub const PROOF_TYPE_SINGLE: &str = "m2m.stark.compliance.v1";
/// Proof type tag of batch proofs.
pub const PROOF_TYPE_BATCH: &str = "m2m.stark.compliance-batch.v1";
/// Commands understood by [`handle`] (the `plan-*` and `hash-felts` commands: [`crate::plan`]).
pub const COMMANDS: [&str; 10] = [
    "compliance-prove",
    "compliance-verify",
    "compliance-batch-prove",
    "compliance-batch-verify",
    "info",
    "plan-hash",
    "plan-run",
    "plan-prove",
    "plan-verify",
    "hash-felts",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ProveEvent {
    public_inputs: Value,
    amount: Value,
    #[serde(default)]
    salt: Option<String>,
    #[serde(default)]
    witness_commitment: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VerifyRequest {
    public_inputs: Value,
    #[serde(default)]
    witness_commitment: Option<String>,
    proof: String,
    #[serde(default)]
    proof_hash: Option<String>,
    #[serde(default)]
    program_id: Option<String>,
    #[serde(default)]
    public_inputs_hash: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BatchProveRequest {
    events: Vec<ProveEvent>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VerifyEvent {
    public_inputs: Value,
    #[serde(default)]
    witness_commitment: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BatchVerifyRequest {
    events: Vec<VerifyEvent>,
    proof: String,
    #[serde(default)]
    proof_hash: Option<String>,
    #[serde(default)]
    program_id: Option<String>,
    #[serde(default)]
    batch_digest: Option<String>,
}

fn parse<T: for<'de> Deserialize<'de>>(request: &Value, command: &str) -> Result<T> {
    serde_json::from_value(request.clone()).map_err(|e| {
        Error::new(
            ErrorCode::InvalidRequest,
            format!("{command}: the request does not match the expected shape: {e}"),
        )
    })
}

/// Dispatches one command. `request` is ignored by `info`.
pub fn handle(command: &str, request: &Value) -> Result<Value> {
    match command {
        "info" => Ok(info()),
        "compliance-prove" => compliance_prove(&parse(request, command)?),
        "compliance-verify" => compliance_verify(&parse(request, command)?),
        "compliance-batch-prove" => batch_prove(&parse(request, command)?),
        "compliance-batch-verify" => batch_verify(&parse(request, command)?),
        "plan-hash" => plan::handle_hash(&parse(request, command)?),
        "plan-run" => plan::handle_run(&parse(request, command)?),
        "plan-prove" => plan::handle_prove(&parse(request, command)?),
        "plan-verify" => plan::handle_verify(&parse(request, command)?),
        "hash-felts" => plan::handle_hash_felts(&parse(request, command)?),
        other => Err(Error::new(
            ErrorCode::UnknownCommand,
            format!(
                "unknown command {other:?}; use one of {}",
                COMMANDS.join(", ")
            ),
        )),
    }
}

fn security_json() -> Value {
    json!({
        "securityBits": params::ENGINE_REPORTED_BITS,
        "conjecturedSecurityBits": params::CONJECTURED_QUERY_BITS.min(params::HASH_COLLISION_BITS),
    })
}

/// The `info` response.
pub fn info() -> Value {
    let programs = Programs::get();
    let mut progs = serde_json::Map::new();
    for p in Policy::ALL {
        progs.insert(p.id().into(), json!({ "programId": program_id(&programs.single(p).hash()), "relation": p.relation() }));
    }
    progs.insert(
        "batch".into(),
        json!({ "programId": program_id(&programs.batch().hash()), "maxEvents": MAX_BATCH }),
    );
    let mut v = json!({
        "engine": ENGINE,
        "engineVersion": ENGINE_VERSION,
        "prover": "m2m-stark",
        "proverVersion": env!("CARGO_PKG_VERSION"),
        "field": "goldilocks (p = 2^64 - 2^32 + 1), quadratic extension",
        "nativeHash": NATIVE_HASH_SCHEME,
        "proofHash": format!("{PROOF_HASH:?}"),
        "proofTypes": [PROOF_TYPE_SINGLE, PROOF_TYPE_BATCH, plan::PROOF_TYPE_PLAN],
        "transparent": true,
        "programs": progs,
        "plan": plan::info(),
        "securityParameters": {
            "blowup": 1u32 << params::LOG_BLOWUP,
            "queries": params::NUM_QUERIES,
            "queryPowBits": params::QUERY_POW_BITS,
            "hashCollisionBits": params::HASH_COLLISION_BITS,
        },
        "commands": COMMANDS,
    });
    merge(&mut v, security_json());
    v
}

fn merge(target: &mut Value, extra: Value) {
    if let (Value::Object(t), Value::Object(e)) = (target, extra) {
        t.extend(e);
    }
}

fn parse_amount(v: &Value) -> Result<u64> {
    match v {
        Value::String(s) => parse_u64_decimal(s, ErrorCode::InvalidAmount, "amount"),
        other => Err(Error::new(
            ErrorCode::InvalidAmount,
            format!("amount must be a decimal string such as \"5000\", got {other}"),
        )),
    }
}

fn parse_commitment(text: &str) -> Result<Word> {
    let c = ErrorCode::InvalidWitnessCommitment;
    word_from_hex(
        strip_scheme(text, NATIVE_HASH_SCHEME, c, "witnessCommitment")?,
        c,
        "witnessCommitment",
    )
}

fn commitment_string(w: &Word) -> String {
    format!("{NATIVE_HASH_SCHEME}:{}", word_to_hex(w))
}

fn sha256_string(d: &[u8; 32]) -> String {
    format!("sha256:{}", hex::encode(d))
}

/// Resolves the witness commitment from the request field and/or `publicInputs.witnessCommitment`.
fn resolve_commitment(
    field: Option<&str>,
    inputs: &CompliancePublicInputs,
    required: bool,
) -> Result<Option<Word>> {
    let a = field.map(parse_commitment).transpose()?;
    let b = inputs
        .witness_commitment
        .as_deref()
        .map(parse_commitment)
        .transpose()?;
    match (a, b) {
        (Some(x), Some(y)) if x != y => Err(Error::new(
            ErrorCode::WitnessCommitmentMismatch,
            "witnessCommitment differs from publicInputs.witnessCommitment",
        )),
        (Some(x), _) | (None, Some(x)) => Ok(Some(x)),
        (None, None) if required => Err(Error::new(
            ErrorCode::InvalidRequest,
            "witnessCommitment is required (in the request or in publicInputs)",
        )),
        (None, None) => Ok(None),
    }
}

struct PreparedEvent {
    inputs: CompliancePublicInputs,
    policy: Policy,
    limit: u64,
    hash: [u8; 32],
}

fn prepare(public_inputs: &Value) -> Result<PreparedEvent> {
    let inputs = CompliancePublicInputs::from_value(public_inputs)?;
    let v = inputs.validate()?;
    Ok(PreparedEvent {
        inputs,
        policy: v.policy,
        limit: v.limit,
        hash: v.hash,
    })
}

fn prepare_witness(ev: &ProveEvent, prepared: &PreparedEvent) -> Result<(Witness, Word)> {
    let amount = parse_amount(&ev.amount)?;
    let salt = match &ev.salt {
        Some(s) => word_from_hex(s, ErrorCode::InvalidSalt, "salt")?,
        None => compliance::random_salt()?,
    };
    let witness = Witness { amount, salt };
    let commitment = witness.commitment();
    if let Some(expected) =
        resolve_commitment(ev.witness_commitment.as_deref(), &prepared.inputs, false)?
    {
        if expected != commitment {
            let hint = if ev.salt.is_none() {
                "; pass the salt that produced it"
            } else {
                ""
            };
            return Err(Error::new(
                ErrorCode::WitnessCommitmentMismatch,
                format!("the given witnessCommitment does not open to this amount and salt{hint}"),
            ));
        }
    }
    Ok((witness, commitment))
}

fn proof_json(proof: &EngineProof, proof_type: &str) -> Value {
    let mut v = json!({
        "proofType": proof_type,
        "engine": ENGINE,
        "engineVersion": ENGINE_VERSION,
        "proof": base64::engine::general_purpose::STANDARD.encode(&proof.bytes),
        "proofEncoding": "base64",
        "proofHash": sha256_string(&sha256(&proof.bytes)),
        "proofSizeBytes": proof.bytes.len(),
        "provingTimeMs": (proof.proving_time_ms * 1000.0).round() / 1000.0,
        "cycles": proof.cycles,
        "traceLength": proof.trace_length,
    });
    merge(&mut v, security_json());
    v
}

fn compliance_prove(req: &ProveEvent) -> Result<Value> {
    let prepared = prepare(&req.public_inputs)?;
    let (witness, commitment) = prepare_witness(req, &prepared)?;
    let statement = Statement {
        policy: prepared.policy,
        public_inputs_hash: prepared.hash,
        limit: prepared.limit,
        witness_commitment: commitment,
    };
    let proof = compliance::prove(&statement, &witness)?;
    let mut v = proof_json(&proof, PROOF_TYPE_SINGLE);
    merge(
        &mut v,
        json!({
            "policyId": prepared.policy.id(),
            "policyLimit": prepared.limit.to_string(),
            "programId": program_id(&statement.program_hash()),
            "publicInputsHash": sha256_string(&prepared.hash),
            "witnessCommitment": commitment_string(&commitment),
            "witnessSalt": word_to_hex(&witness.salt),
        }),
    );
    Ok(v)
}

fn decode_proof(text: &str, expected_hash: Option<&str>) -> Result<(Vec<u8>, [u8; 32])> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| {
            Error::new(
                ErrorCode::InvalidProofEncoding,
                format!("proof must be standard base64 with padding: {e}"),
            )
        })?;
    let digest = sha256(&bytes);
    if let Some(expected) = expected_hash {
        if expected != sha256_string(&digest) {
            return Err(Error::new(
                ErrorCode::ProofHashMismatch,
                format!(
                    "proofHash {expected} does not match the proof bytes ({})",
                    sha256_string(&digest)
                ),
            ));
        }
    }
    Ok((bytes, digest))
}

fn check_program(expected: Option<&str>, actual: &Word) -> Result<String> {
    let id = program_id(actual);
    if let Some(e) = expected {
        if e != id {
            return Err(Error::new(
                ErrorCode::ProgramIdMismatch,
                format!("programId {e} is not the program this verifier checks ({id})"),
            ));
        }
    }
    Ok(id)
}

fn compliance_verify(req: &VerifyRequest) -> Result<Value> {
    let start = Instant::now();
    let prepared = prepare(&req.public_inputs)?;
    let commitment = resolve_commitment(req.witness_commitment.as_deref(), &prepared.inputs, true)?
        .expect("required");
    if let Some(e) = &req.public_inputs_hash {
        if *e != sha256_string(&prepared.hash) {
            return Err(Error::new(
                ErrorCode::PublicInputsHashMismatch,
                format!(
                    "publicInputsHash {e} is not the hash of these public inputs ({})",
                    sha256_string(&prepared.hash)
                ),
            ));
        }
    }
    let (bytes, digest) = decode_proof(&req.proof, req.proof_hash.as_deref())?;
    let statement = Statement {
        policy: prepared.policy,
        public_inputs_hash: prepared.hash,
        limit: prepared.limit,
        witness_commitment: commitment,
    };
    let program = statement.program_hash();
    let program_id = check_program(req.program_id.as_deref(), &program)?;
    let bits = compliance::verify_with_program(&statement, &bytes, program)?;
    let mut v = json!({
        "valid": true,
        "proofType": PROOF_TYPE_SINGLE,
        "policyId": prepared.policy.id(),
        "policyLimit": prepared.limit.to_string(),
        "programId": program_id,
        "publicInputsHash": sha256_string(&prepared.hash),
        "witnessCommitment": commitment_string(&commitment),
        "proofHash": sha256_string(&digest),
        "proofSizeBytes": bytes.len(),
        "securityBits": bits,
        "verifyTimeMs": (start.elapsed().as_secs_f64() * 1e6).round() / 1000.0,
    });
    merge(
        &mut v,
        json!({ "conjecturedSecurityBits": params::CONJECTURED_QUERY_BITS.min(params::HASH_COLLISION_BITS) }),
    );
    Ok(v)
}

fn check_batch_len(n: usize) -> Result<()> {
    if n == 0 || n > MAX_BATCH {
        return Err(Error::new(
            ErrorCode::InvalidBatch,
            format!("events must hold 1 to {MAX_BATCH} entries, got {n}"),
        ));
    }
    Ok(())
}

fn with_index<T>(i: usize, r: Result<T>) -> Result<T> {
    r.map_err(|e| Error::new(e.code, format!("events[{i}]: {}", e.message)))
}

fn batch_prove(req: &BatchProveRequest) -> Result<Value> {
    check_batch_len(req.events.len())?;
    let mut members = Vec::with_capacity(req.events.len());
    let mut witnesses = Vec::with_capacity(req.events.len());
    let mut out_events = Vec::with_capacity(req.events.len());
    for (i, ev) in req.events.iter().enumerate() {
        let prepared = with_index(i, prepare(&ev.public_inputs))?;
        let (witness, commitment) = with_index(i, prepare_witness(ev, &prepared))?;
        members.push(Member {
            policy: prepared.policy,
            public_inputs_hash: prepared.hash,
            limit: prepared.limit,
            witness_commitment: commitment,
        });
        witnesses.push(witness);
        out_events.push(json!({
            "policyId": prepared.policy.id(),
            "policyLimit": prepared.limit.to_string(),
            "publicInputsHash": sha256_string(&prepared.hash),
            "witnessCommitment": commitment_string(&commitment),
            "witnessSalt": word_to_hex(&witness.salt),
        }));
    }
    let proof = batch::prove(&members, &witnesses)?;
    let mut v = proof_json(&proof, PROOF_TYPE_BATCH);
    merge(
        &mut v,
        json!({
            "programId": program_id(&Programs::get().batch().hash()),
            "batchSize": members.len(),
            "batchDigest": commitment_string(&batch::digest(&members)),
            "events": out_events,
        }),
    );
    Ok(v)
}

fn batch_verify(req: &BatchVerifyRequest) -> Result<Value> {
    let start = Instant::now();
    check_batch_len(req.events.len())?;
    let mut members = Vec::with_capacity(req.events.len());
    for (i, ev) in req.events.iter().enumerate() {
        let prepared = with_index(i, prepare(&ev.public_inputs))?;
        let commitment = with_index(
            i,
            resolve_commitment(ev.witness_commitment.as_deref(), &prepared.inputs, true),
        )?
        .expect("required");
        members.push(Member {
            policy: prepared.policy,
            public_inputs_hash: prepared.hash,
            limit: prepared.limit,
            witness_commitment: commitment,
        });
    }
    let digest = commitment_string(&batch::digest(&members));
    if let Some(e) = &req.batch_digest {
        if *e != digest {
            return Err(Error::new(
                ErrorCode::BatchDigestMismatch,
                format!("batchDigest {e} is not the digest of these events ({digest})"),
            ));
        }
    }
    let (bytes, proof_digest) = decode_proof(&req.proof, req.proof_hash.as_deref())?;
    let program = Programs::get().batch().hash();
    let program_id = check_program(req.program_id.as_deref(), &program)?;
    let bits = batch::verify_with_program(&members, &bytes, program)?;
    Ok(json!({
        "valid": true,
        "proofType": PROOF_TYPE_BATCH,
        "programId": program_id,
        "batchSize": members.len(),
        "batchDigest": digest,
        "proofHash": sha256_string(&proof_digest),
        "proofSizeBytes": bytes.len(),
        "securityBits": bits,
        "conjecturedSecurityBits": params::CONJECTURED_QUERY_BITS.min(params::HASH_COLLISION_BITS),
        "verifyTimeMs": (start.elapsed().as_secs_f64() * 1e6).round() / 1000.0,
    }))
}
