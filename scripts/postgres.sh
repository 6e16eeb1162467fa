#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, postgres, pg_ctl) exist for the sequencer tests
# and bench, which start a private cluster of their own. Idempotent: does nothing when present.
set -euo pipefail

find_bindir() {
  if [ -n "${PG_BINDIR:-}" ] && [ -x "$PG_BINDIR/initdb" ]; then echo "$PG_BINDIR"; return 0; fi
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then echo "$dir"; return 0; fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

if bindir=$(find_bindir); then
  echo "postgres: server binaries in $bindir ($("$bindir/postgres" --version))"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "postgres: server binaries not found and not root; install the Debian package 'postgresql' (sudo apt-get install -y postgresql) or set PG_BINDIR" >&2
  exit 1
fi

echo "postgres: installing the Debian package 'postgresql'"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
# The package starts a system cluster on 5432; the tests never use it, so stop it again.
if command -v pg_ctlcluster >/dev/null 2>&1; then
  for cluster in $(pg_lsclusters -h 2>/dev/null | awk '{print $1"/"$2}'); do
    pg_ctlcluster ${cluster%/*} ${cluster#*/} stop >/dev/null 2>&1 || true
  done
fi
bindir=$(find_bindir) || { echo "postgres: install finished but initdb is still missing" >&2; exit 1; }
echo "postgres: server binaries in $bindir ($("$bindir/postgres" --version))"
