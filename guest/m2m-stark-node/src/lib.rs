//! Node addon (napi-rs) that verifies m2m-stark compliance proofs inside the node process.
//!
//! Every function takes and returns JSON text and goes through [`m2m_stark::protocol::handle`],
//! so requests and responses are exactly those of the `m2m-prover` child process. Only `info`
//! and the two verify commands are offered: proving stays in the child process, where it can be
//! killed and memory-limited.
//!
//! On failure the function throws a JS `Error` whose `message` is the prover's wire text
//! `{"error":{"code","message"}}` and whose `code` property is the same stable code.
//! Panics are caught in [`dispatch::run`] and never cross the FFI boundary.

#![deny(missing_docs)]

mod dispatch;

use napi_derive::napi;

fn to_js(result: Result<String, dispatch::Failure>) -> napi::Result<String, String> {
    result.map_err(|f| napi::Error::new(f.code.to_owned(), f.json))
}

/// Engine, version, program ids and security parameters (the `info` response) as JSON text.
#[napi]
pub fn info() -> napi::Result<String, String> {
    to_js(dispatch::run("info", ""))
}

/// Verifies one single-event compliance proof (`compliance-verify`); JSON text in and out.
#[napi]
pub fn compliance_verify(request_json: String) -> napi::Result<String, String> {
    to_js(dispatch::run("compliance-verify", &request_json))
}

/// Verifies one batch compliance proof (`compliance-batch-verify`); JSON text in and out.
#[napi]
pub fn compliance_batch_verify(request_json: String) -> napi::Result<String, String> {
    to_js(dispatch::run("compliance-batch-verify", &request_json))
}

/// Runs `command` if it may run in process (`info`, `compliance-verify`,
/// `compliance-batch-verify`); any other command, proving included, fails with
/// `UNKNOWN_COMMAND`.
#[napi]
pub fn call(command: String, request_json: String) -> napi::Result<String, String> {
    to_js(dispatch::run(&command, &request_json))
}

/// The commands this addon runs in process.
#[napi]
pub fn commands() -> Vec<String> {
    dispatch::IN_PROCESS_COMMANDS
        .iter()
        .map(|c| (*c).to_owned())
        .collect()
}
