#!/usr/bin/env bash
# The crash soak (docs/reliability.md): N `kill -9` iterations of `coffer serve` at random points
# of a mixed write/reveal/rotate/storage-migration load (the org's storage switched between the
# default store and its own bucket on a moto server, which outlives the kills), checking after
# every restart that nothing acknowledged is lost, view counts are exact, the audit chain
# verifies and the interrupted migration resumes and finishes. CI runs 3 iterations as part of
# `cargo test`; the release check is N=1000:
#
#   scripts/soak.sh 1000
#
# moto comes from .venv-test (what scripts/test.sh installs), or COFFER_MOTO_SERVER.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
MOTO_VERSION=5.2.5 # as in scripts/test.sh
if [ -z "${COFFER_MOTO_SERVER:-}" ]; then
  if [ ! -x .venv-test/bin/moto_server ]; then
    echo "== installing moto $MOTO_VERSION into .venv-test (the soak org's bucket lives on it)"
    python3 -m venv .venv-test
    .venv-test/bin/pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  fi
  export COFFER_MOTO_SERVER="$PWD/.venv-test/bin/moto_server"
fi
COFFER_SOAK_ITERATIONS="$N" cargo test --release -p coffer --test crash_safety \
  a_crash_soak_over_mixed_load_loses_nothing -- --nocapture
