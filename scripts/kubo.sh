#!/usr/bin/env bash
# Installs Kubo (the IPFS reference daemon, Go module github.com/ipfs/kubo) into
# ~/.cache/m2m/kubo/bin once, then prints the path of its binary. Later runs find the cached
# binary of the pinned version and print it at once; nothing but Go modules is downloaded.
#
# Plain `go install github.com/ipfs/kubo/cmd/ipfs@VERSION` asks the module proxy for the
# module's version list (to report deprecations), and some proxies refuse that listing. A
# throwaway module that requires the pinned Kubo version builds the very same binary (its
# build list is Kubo's own go.mod) without that lookup, so the script does that.
#
# The pinned version needs Go >= 1.26.5 (its go.mod says so; older Kubo releases do not build
# with Go 1.26: cockroachdb/swiss links runtime internals). The first build takes several minutes
# on 2 cores; the Go build and module caches are the usual ones. The storage tests start their
# own offline, loopback-only daemon from this binary (test/support/kubo.ts); M2M_KUBO_BIN points
# them at another binary.
set -euo pipefail
VERSION="${KUBO_VERSION:-v0.43.0}"
ROOT="${HOME}/.cache/m2m/kubo"
BIN="${ROOT}/bin/ipfs"
if [ -x "${BIN}" ] && "${BIN}" version 2>/dev/null | grep -qF "${VERSION#v}"; then
  echo "${BIN}"
  exit 0
fi
if ! command -v go >/dev/null; then
  echo "Kubo is built with Go: install Go >= 1.26.5 (Debian: golang-go), then run npm run build:kubo" >&2
  exit 1
fi
BUILD="${ROOT}/build-${VERSION}"
rm -rf "${BUILD}"
mkdir -p "${BUILD}" "${ROOT}/bin"
echo "building Kubo ${VERSION} (several minutes the first time)" >&2
(
  cd "${BUILD}"
  go mod init m2m.local/kubo-build >/dev/null 2>&1
  go get "github.com/ipfs/kubo/cmd/ipfs@${VERSION}" >&2
  CGO_ENABLED=0 go build -trimpath -o "${BIN}.tmp" github.com/ipfs/kubo/cmd/ipfs >&2
)
mv "${BIN}.tmp" "${BIN}"
rm -rf "${BUILD}"
"${BIN}" version >&2
echo "${BIN}"
