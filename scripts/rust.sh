#!/usr/bin/env bash
# Tasks for the Rust workspace in guest/: build | test | lint.
# `build` makes the m2m-prover binary (proving, as a child process) and the in-process verifier
# addon $CARGO_TARGET_DIR/release/libm2m_stark_node.so (Node loads it with process.dlopen).
# Builds go to a cache outside the clone ($CARGO_TARGET_DIR, default ~/.cache/m2m/cargo-target)
# so reruns are fast; the first build on a new machine takes about 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../guest"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/m2m/cargo-target}"
# Packed field arithmetic for the prover, only where the CPU has it (a binary built for a newer
# level dies with SIGILL elsewhere): x86-64-v4 (AVX-512) when /proc/cpuinfo shows it, else
# x86-64-v3 (AVX2, BMI2, FMA). v3 made proving about 1.6x faster than the baseline; v4 is about
# 10% faster again on plan proofs (guest/README.md).
cpu_has() { for flag in "$@"; do grep -qw "$flag" /proc/cpuinfo || return 1; done; }
if [ "$(uname -m)" = x86_64 ]; then
  if cpu_has avx512f avx512bw avx512cd avx512dq avx512vl avx2 bmi2 fma; then
    export RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=x86-64-v4"
  elif cpu_has avx2 bmi2 fma; then
    export RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=x86-64-v3"
  fi
fi
case "${1:-}" in
  # One invocation over the whole workspace, like test and lint: a separate `-p` build would
  # resolve other features for the shared miden crates and compile them a second time.
  build) cargo build --release --locked --bin m2m-prover --lib ;;
  test) cargo test --release --locked ;;
  lint)
    cargo fmt --all -- --check
    cargo clippy --release --locked --all-targets -- -D warnings
    ;;
  *)
    echo "usage: scripts/rust.sh build|test|lint" >&2
    exit 2
    ;;
esac
