#!/usr/bin/env bash
# The crash soak (docs/reliability.md): N `kill -9` iterations of `coffer serve` at random points
# of a mixed write/reveal/rotate load, checking after every restart that nothing acknowledged is
# lost, view counts are exact and the audit chain verifies. CI runs 3 iterations as part of
# `cargo test`; the release check is N=1000:
#
#   scripts/soak.sh 1000
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
COFFER_SOAK_ITERATIONS="$N" cargo test --release -p coffer --test crash_safety \
  a_crash_soak_over_mixed_load_loses_nothing -- --nocapture
