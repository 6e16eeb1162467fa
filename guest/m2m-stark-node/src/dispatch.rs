//! The safe core of the addon: which commands run in process, and their JSON in and out.
//!
//! Kept apart from the napi glue in `lib.rs` so it can forbid unsafe code and be unit tested
//! without a Node runtime.

#![forbid(unsafe_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};

use m2m_stark::error::{Error, ErrorCode};
use m2m_stark::protocol;
use serde_json::Value;

/// Commands the addon runs in process. Proving and running programs are not among them: they
/// stay in the `m2m-prover` child process, which the node can kill at a deadline and hold to a
/// memory limit.
pub const IN_PROCESS_COMMANDS: [&str; 6] = [
    "info",
    "compliance-verify",
    "compliance-batch-verify",
    "plan-hash",
    "plan-verify",
    "hash-felts",
];

/// Largest accepted request, the same bound as `m2m-prover`'s stdin.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// A failed call: the prover's stable code and the wire text `{"error":{"code","message"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Stable UPPER_SNAKE code, as `m2m-prover` reports it.
    pub code: &'static str,
    /// `{"error":{"code":..,"message":..}}` as JSON text.
    pub json: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self {
            code: e.code.as_str(),
            json: e.to_json().to_string(),
        }
    }
}

/// Runs one in-process command on a JSON request and returns the JSON response text.
///
/// Never panics: a panic inside the verifier becomes an `INTERNAL_ERROR` failure, so no unwind
/// reaches the FFI boundary.
pub fn run(command: &str, request_json: &str) -> Result<String, Failure> {
    guard(command, || run_inner(command, request_json))
}

/// Runs `f`, turning a panic into an `INTERNAL_ERROR` failure.
fn guard(command: &str, f: impl FnOnce() -> m2m_stark::Result<Value>) -> Result<String, Failure> {
    guard_value(command, f).map(|value| value.to_string())
}

/// Runs `f`, turning a panic into an `INTERNAL_ERROR` failure; keeps the value.
pub fn guard_value<T>(
    command: &str,
    f: impl FnOnce() -> m2m_stark::Result<T>,
) -> Result<T, Failure> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.into()),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".to_owned());
            Err(Error::new(
                ErrorCode::Internal,
                format!("{command}: the in-process verifier panicked: {what}"),
            )
            .into())
        }
    }
}

fn run_inner(command: &str, request_json: &str) -> m2m_stark::Result<Value> {
    if !IN_PROCESS_COMMANDS.contains(&command) {
        let why = if protocol::COMMANDS.contains(&command) {
            "proving and running programs happen only in the m2m-prover child process, so they can be killed and memory-limited"
        } else {
            "it is not a prover command"
        };
        return Err(Error::new(
            ErrorCode::UnknownCommand,
            format!(
                "{command:?} is not available in process ({why}); use one of {}",
                IN_PROCESS_COMMANDS.join(", ")
            ),
        ));
    }
    if command == "info" {
        let mut info = protocol::handle(command, &Value::Null)?;
        if let Value::Object(map) = &mut info {
            map.insert("inProcess".into(), Value::Bool(true));
            map.insert("inProcessCommands".into(), IN_PROCESS_COMMANDS.into());
        }
        return Ok(info);
    }
    if request_json.len() > MAX_REQUEST_BYTES {
        return Err(Error::new(
            ErrorCode::RequestTooLarge,
            format!("the request exceeds {MAX_REQUEST_BYTES} bytes; split the batch"),
        ));
    }
    let request: Value = serde_json::from_str(request_json).map_err(|e| {
        Error::new(
            ErrorCode::InvalidRequest,
            format!("the request must be one JSON object: {e}"),
        )
    })?;
    protocol::handle(command, &request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_code(f: &Failure) -> String {
        let v: Value = serde_json::from_str(&f.json).expect("error JSON");
        v["error"]["code"].as_str().expect("code").to_owned()
    }

    #[test]
    fn info_answers() {
        let out: Value = serde_json::from_str(&run("info", "").expect("info")).expect("JSON");
        assert_eq!(out["engine"], "miden-vm");
        assert_eq!(out["inProcess"], true);
        assert_eq!(out["inProcessCommands"][1], "compliance-verify");
    }

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let f = guard("compliance-verify", || panic!("boom")).expect_err("panic");
        assert_eq!(f.code, "INTERNAL_ERROR");
        assert!(f.json.contains("boom"), "{}", f.json);
    }

    #[test]
    fn prove_commands_are_refused() {
        for command in [
            "compliance-prove",
            "compliance-batch-prove",
            "plan-prove",
            "plan-run",
            "nope",
        ] {
            let f = run(command, "{}").expect_err(command);
            assert_eq!(f.code, "UNKNOWN_COMMAND");
            assert_eq!(error_code(&f), "UNKNOWN_COMMAND");
        }
        let f = run("compliance-prove", "{}").expect_err("refused");
        assert!(f.json.contains("child process"), "{}", f.json);
    }

    #[test]
    fn malformed_requests_get_typed_errors() {
        let f = run("compliance-verify", "not json").expect_err("bad JSON");
        assert_eq!(f.code, "INVALID_REQUEST");
        let f = run("compliance-verify", "{\"unknown\":1}").expect_err("bad shape");
        assert_eq!(f.code, "INVALID_REQUEST");
        let f =
            run("compliance-batch-verify", "{\"events\":[],\"proof\":\"\"}").expect_err("empty");
        assert_eq!(f.code, "INVALID_BATCH");
        assert_eq!(error_code(&f), "INVALID_BATCH");
    }

    #[test]
    fn plan_commands_run_in_process() {
        let out: Value = serde_json::from_str(
            &run("plan-hash", r#"{"masm":"begin push.1 drop end"}"#).expect("plan-hash"),
        )
        .expect("JSON");
        assert_eq!(out["programHash"].as_str().map(str::len), Some(64));
        let out: Value = serde_json::from_str(
            &run(
                "hash-felts",
                r#"{"values":["0","0","0","0","0","0","0","0"]}"#,
            )
            .expect("hash-felts"),
        )
        .expect("JSON");
        assert_eq!(out["digest"].as_str().map(str::len), Some(64));
        let f = run("plan-hash", r#"{"masm":"begin nonsense end"}"#).expect_err("bad masm");
        assert_eq!(f.code, "M2M_PLAN_ASSEMBLY_FAILED");
    }
}
