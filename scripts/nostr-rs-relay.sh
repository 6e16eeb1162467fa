#!/usr/bin/env bash
# Installs nostr-rs-relay (crates.io) into ~/.cache/m2m/nostr-rs-relay once, then prints the path
# of its binary. Later runs find the cached binary and print it at once.
#
# The crate's own Cargo.lock is used (--locked), with one exception: it pins time 0.3.25, which
# no longer compiles on Rust >= 1.80 (E0282 in time's format_description parser), so time alone is
# moved to 0.3.36, the first release with the fix. Plain `cargo install nostr-rs-relay --locked`
# therefore fails on current toolchains.
#
# Needs protoc (Debian: protobuf-compiler) for the crate's gRPC stubs; as root it installs it with
# apt-get. The first build takes several
# minutes on 2 cores; its build directory is its own, so it never waits on the prover's cargo lock.
set -euo pipefail
VERSION="${NOSTR_RS_RELAY_VERSION:-0.8.12}"
ROOT="${HOME}/.cache/m2m/nostr-rs-relay"
BIN="${ROOT}/bin/nostr-rs-relay"
if [ -x "${BIN}" ] && "${BIN}" --version 2>/dev/null | grep -qF "${VERSION}"; then
  echo "${BIN}"
  exit 0
fi
if ! command -v protoc >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing protoc (Debian package protobuf-compiler) for nostr-rs-relay's gRPC stubs" >&2
    apt-get update -qq >&2 && apt-get install -y -qq protobuf-compiler >&2
  else
    echo "nostr-rs-relay needs protoc: apt-get install -y protobuf-compiler" >&2
    exit 1
  fi
fi
SRC="${ROOT}/src/nostr-rs-relay-${VERSION}"
if [ ! -f "${SRC}/Cargo.lock" ]; then
  # A throwaway manifest that depends on the crate makes cargo download its .crate archive.
  FETCH="${ROOT}/fetch"
  mkdir -p "${FETCH}/src" "${ROOT}/src"
  : >"${FETCH}/src/lib.rs"
  printf '[package]\nname = "fetch-nostr-rs-relay"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\nnostr-rs-relay = "=%s"\n' \
    "${VERSION}" >"${FETCH}/Cargo.toml"
  cargo fetch --quiet --manifest-path "${FETCH}/Cargo.toml" >&2
  CRATE="$(find "${CARGO_HOME:-${HOME}/.cargo}/registry/cache" -name "nostr-rs-relay-${VERSION}.crate" | head -n 1)"
  tar -xzf "${CRATE}" -C "${ROOT}/src"
  cargo update --quiet --manifest-path "${SRC}/Cargo.toml" -p time@0.3.25 --precise 0.3.36 >&2
fi
export CARGO_TARGET_DIR="${ROOT}/target"
cargo install --path "${SRC}" --locked --root "${ROOT}" >&2
# The binary is all that is needed from now on; the build directory is over 2 GB.
rm -rf "${CARGO_TARGET_DIR}" "${ROOT}/fetch"
echo "${BIN}"
