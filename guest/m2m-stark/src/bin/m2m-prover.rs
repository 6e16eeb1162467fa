//! `m2m-prover COMMAND [--timeout-ms N] [--max-memory-mb N] < request.json > response.json`
//!
//! Reads one JSON request from stdin (not for `info`), writes one JSON response to stdout.
//! On failure writes `{"error":{"code":"...","message":"..."}}` to stdout and exits non-zero:
//! 1 = statement false or proof rejected, 2 = bad request, 3 = internal, 124 = timeout.

use std::io::{Read, Write};
use std::time::Duration;

use m2m_stark::error::{Error, ErrorCode};
use m2m_stark::protocol;

/// Largest accepted request (a batch of 4096 events is well below this).
const MAX_REQUEST_BYTES: u64 = 64 * 1024 * 1024;

const USAGE: &str = "usage: m2m-prover <compliance-prove|compliance-verify|compliance-batch-prove|compliance-batch-verify|plan-hash|plan-run|plan-prove|plan-verify|hash-felts|info> [--timeout-ms N] [--max-memory-mb N] < request.json";

struct Args {
    command: String,
    timeout_ms: Option<u64>,
    max_memory_mb: Option<u64>,
}

fn parse_args() -> Result<Args, Error> {
    let mut it = std::env::args().skip(1);
    let command = it.next().ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidArgument,
            format!("missing command; {USAGE}"),
        )
    })?;
    let mut args = Args {
        command,
        timeout_ms: None,
        max_memory_mb: None,
    };
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--timeout-ms" => &mut args.timeout_ms,
            "--max-memory-mb" => &mut args.max_memory_mb,
            other => {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    format!("unknown option {other:?}; {USAGE}"),
                ))
            }
        };
        let value = it
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|v| *v > 0)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::InvalidArgument,
                    format!("{flag} needs a positive integer"),
                )
            })?;
        *slot = Some(value);
    }
    Ok(args)
}

fn emit(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    // Nothing sensible can be done if stdout is closed; the exit code still tells the caller.
    let _ = serde_json::to_writer(&mut out, value);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

fn fail(err: &Error) -> ! {
    emit(&err.to_json());
    std::process::exit(err.code.exit_code());
}

#[cfg(unix)]
fn limit_memory(mb: u64) -> Result<(), Error> {
    let bytes = mb.saturating_mul(1024 * 1024) as libc::rlim_t;
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: setrlimit only reads the struct we pass; it has no other memory effects.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) };
    if rc != 0 {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!(
                "--max-memory-mb {mb}: setrlimit failed: {}",
                std::io::Error::last_os_error()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn limit_memory(_mb: u64) -> Result<(), Error> {
    Err(Error::new(
        ErrorCode::InvalidArgument,
        "--max-memory-mb is supported on Unix only",
    ))
}

/// Peak resident memory of this process in bytes (Linux reports `ru_maxrss` in KiB).
#[cfg(unix)]
fn peak_memory_bytes() -> Option<u64> {
    // SAFETY: getrusage writes only into the zeroed struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    (rc == 0).then(|| (usage.ru_maxrss.max(0) as u64).saturating_mul(1024))
}

#[cfg(not(unix))]
fn peak_memory_bytes() -> Option<u64> {
    None
}

fn read_request() -> Result<serde_json::Value, Error> {
    let mut buf = Vec::new();
    std::io::stdin()
        .take(MAX_REQUEST_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::new(ErrorCode::InvalidRequest, format!("cannot read stdin: {e}")))?;
    if buf.len() as u64 > MAX_REQUEST_BYTES {
        return Err(Error::new(
            ErrorCode::RequestTooLarge,
            format!("the request exceeds {MAX_REQUEST_BYTES} bytes; split the batch"),
        ));
    }
    serde_json::from_slice(&buf).map_err(|e| {
        Error::new(
            ErrorCode::InvalidRequest,
            format!("stdin must hold one JSON object: {e}"),
        )
    })
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| fail(&e));
    if let Some(mb) = args.max_memory_mb {
        limit_memory(mb).unwrap_or_else(|e| fail(&e));
    }
    if let Some(ms) = args.timeout_ms {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            fail(&Error::new(
                ErrorCode::Timeout,
                format!("the command did not finish within {ms} ms"),
            ));
        });
    }
    if !protocol::COMMANDS.contains(&args.command.as_str()) {
        fail(&Error::new(
            ErrorCode::UnknownCommand,
            format!("unknown command {:?}; {USAGE}", args.command),
        ));
    }
    let request = if args.command == "info" {
        serde_json::Value::Null
    } else {
        read_request().unwrap_or_else(|e| fail(&e))
    };
    // Memory exhaustion under --max-memory-mb aborts the process (the caller sees a signal);
    // any panic is reported as INTERNAL_ERROR.
    let result = std::panic::catch_unwind(|| protocol::handle(&args.command, &request));
    match result {
        Ok(Ok(mut value)) => {
            if let (Some(bytes), serde_json::Value::Object(map)) = (peak_memory_bytes(), &mut value)
            {
                map.insert("peakMemoryBytes".into(), bytes.into());
            }
            emit(&value)
        }
        Ok(Err(e)) => fail(&e),
        Err(_) => fail(&Error::new(
            ErrorCode::Internal,
            "the prover panicked; see stderr",
        )),
    }
}
