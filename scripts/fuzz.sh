#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time: scripts/fuzz.sh [SECONDS_PER_TARGET]
# (default 20). Each target starts from its seeds in fuzz/corpus/<target>/, copied to a temporary
# directory so a run never grows the committed corpus. Fails if any target crashes, panics, hangs
# or runs out of memory, and says where the input that did it is (fuzz/artifacts/<target>/) and
# how to replay it. Installs what it needs on a fresh machine: cargo-fuzz (pinned) and a nightly
# toolchain. docs/reliability.md "Fuzzing" lists the targets and what each checks.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${1:-20}"
CARGO_FUZZ_VERSION=0.13.1
# No AddressSanitizer: every Coffer crate is #![forbid(unsafe_code)], so it would only watch
# dependencies' unsafe code, at about twice the run time and a slower build. COFFER_FUZZ_SANITIZER
# picks another (address, leak, memory, thread). 16 codegen units: a much faster build of the
# AWS SDK and the rest for a slightly slower fuzzer.
SANITIZER="${COFFER_FUZZ_SANITIZER:-none}"
# The build lives outside the clone (COFFER_FUZZ_TARGET_DIR), so CI's fresh clone on a machine
# that fuzzed before rebuilds only Coffer's own crates, not the AWS SDK and the rest.
TARGET_DIR="${COFFER_FUZZ_TARGET_DIR:-$HOME/.cache/coffer/fuzz-target}"
BUILD_FLAGS=(--fuzz-dir fuzz --sanitizer "$SANITIZER" --codegen-units 16 --target-dir "$TARGET_DIR")

say() { printf '\n== %s\n' "$*"; }

case "$SECONDS_PER_TARGET" in
  '' | *[!0-9]* | 0) echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] (a whole number > 0)" >&2; exit 2 ;;
esac

# cargo fuzz runs on nightly (its sanitizers are nightly-only flags). Without a sanitizer it needs
# none of them, so where no nightly toolchain can be installed the default toolchain builds it.
CARGO=(cargo +nightly)
if ! cargo +nightly --version >/dev/null 2>&1; then
  say "installing the nightly toolchain (for cargo fuzz)"
  if ! rustup toolchain install nightly --profile minimal; then
    if [ "$SANITIZER" != none ]; then
      echo "error: no nightly toolchain, and the $SANITIZER sanitizer needs one" >&2
      exit 1
    fi
    echo "no nightly toolchain: building with the default toolchain (no sanitizer)"
    CARGO=(cargo)
  fi
fi
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  say "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

say "cargo fuzz build (sanitizer: $SANITIZER)"
build_start=$SECONDS
"${CARGO[@]}" fuzz build "${BUILD_FLAGS[@]}"
echo "built in $((SECONDS - build_start)) s"

mapfile -t targets < <("${CARGO[@]}" fuzz list --fuzz-dir fuzz)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for t in "${targets[@]}"; do
  say "fuzz $t for ${SECONDS_PER_TARGET} s"
  mkdir -p "$work/$t" fuzz/artifacts/"$t"
  if [ -d fuzz/corpus/"$t" ]; then
    cp -R fuzz/corpus/"$t"/. "$work/$t"/
  fi
  marker="$work/$t.started"
  touch "$marker"
  # -timeout: one input running over 10 s is a hang, and fails the run like a crash.
  if "${CARGO[@]}" fuzz run "${BUILD_FLAGS[@]}" "$t" "$work/$t" -- \
      -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -print_final_stats=1 \
      >"$work/$t.log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$work/$t.log" | tr '\n' ' '
    echo
  else
    # What failed (a panic's message and place, or libFuzzer's verdict), then how the run ended.
    grep -m1 -A4 -E 'panicked at|ERROR: libFuzzer' "$work/$t.log" || true
    echo "…"
    tail -n 25 "$work/$t.log"
    failed+=("$t")
    found=$(find fuzz/artifacts/"$t" -type f -newer "$marker" 2>/dev/null || true)
    echo
    echo "FAILED: fuzz target $t"
    if [ -n "$found" ]; then
      while IFS= read -r input; do
        echo "  the input: $input"
        echo "  replay it: ${CARGO[*]} fuzz run ${BUILD_FLAGS[*]} $t $input"
      done <<<"$found"
    fi
  fi
done

say "fuzzing: ${#targets[@]} targets, ${SECONDS_PER_TARGET} s each"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
echo "no target failed"
