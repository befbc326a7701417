#!/usr/bin/env bash
# Fuzz smoke test for CI: runs every cargo-fuzz target for a bounded time and
# fails if any of them finds a crash (a panic, a failed property, a timeout
# or running out of memory). Installs what it needs: the nightly toolchain
# and cargo-fuzz.
#
#   fuzz/smoke.sh                      # every target, 30 s each
#   FUZZ_SECONDS=300 fuzz/smoke.sh     # 5 minutes each
#   FUZZ_TARGETS="inviter invitee" fuzz/smoke.sh
#
# Environment:
#   FUZZ_SECONDS    seconds per target (default 30)
#   FUZZ_TARGETS    space-separated targets (default: all six)
#   FUZZ_SANITIZER  none (default) or address. beckon-core and beckon-desktop
#                   forbid unsafe code, and without AddressSanitizer the
#                   targets run about eight times faster; use address for
#                   long campaigns.
#   FUZZ_ARTIFACTS  where crashing inputs go (default fuzz/artifacts)
#   CARGO_TARGET_DIR  if set, the build goes to "$CARGO_TARGET_DIR/fuzz"
#
# The checked-in corpus (fuzz/corpus/<target>) seeds each run and is not
# modified: new inputs go to a temporary directory. For each target it
# prints executions, executions per second and libFuzzer's coverage figures
# (cov: edges, ft: features). A crash leaves its input in FUZZ_ARTIFACTS;
# turn it into a corpus entry (fuzz/corpus/<target>/regress-*) and a test in
# core/tests/fuzz_corpus.rs (adapters/desktop/tests/fuzz_corpus_store.rs for
# directory_file).
set -euo pipefail
cd "$(dirname "$0")"

FUZZ_SECONDS="${FUZZ_SECONDS:-30}"
FUZZ_TARGETS="${FUZZ_TARGETS:-frame_decoder payload_roundtrip inviter invitee key_text directory_file}"
FUZZ_SANITIZER="${FUZZ_SANITIZER:-none}"
FUZZ_ARTIFACTS="${FUZZ_ARTIFACTS:-$PWD/artifacts}"
export CARGO_TERM_COLOR=never

step() { printf '\n=== %s ===\n' "$*"; }

step "fuzz: toolchain"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
rustup run nightly rustc --version
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
cargo +nightly fuzz --version

target_dir_args=()
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
    target_dir_args=(--target-dir "$CARGO_TARGET_DIR/fuzz")
fi
build_args=(--sanitizer "$FUZZ_SANITIZER" "${target_dir_args[@]}")

step "fuzz: build (release, debug assertions, sanitizer $FUZZ_SANITIZER)"
cargo +nightly fuzz build "${build_args[@]}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$FUZZ_ARTIFACTS"

failed=()
summary=()
total_execs=0
for target in $FUZZ_TARGETS; do
    step "fuzz: $target for ${FUZZ_SECONDS}s"
    mkdir -p "$work/$target" "$FUZZ_ARTIFACTS/$target"
    log="$work/$target.log"
    set +e
    cargo +nightly fuzz run "${build_args[@]}" "$target" \
        "$work/$target" "corpus/$target" -- \
        -max_total_time="$FUZZ_SECONDS" \
        -dict=beckon.dict \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -print_final_stats=1 \
        -artifact_prefix="$FUZZ_ARTIFACTS/$target/" \
        >"$log" 2>&1
    rc=$?
    set -e
    # The last status line carries the coverage; the final stats the counts.
    status_line="$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -n 1 || true)"
    cov="$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$status_line")"
    ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$status_line")"
    corp="$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$status_line")"
    execs="$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)"
    rate="$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -n 1)"
    line="$(printf '%-18s execs %10s  execs/s %7s  cov: %6s  ft: %6s  corpus %5s' \
        "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")"
    total_execs=$((total_execs + ${execs:-0}))
    if [[ $rc -ne 0 ]]; then
        failed+=("$target")
        line="$line  FAILED (exit $rc)"
        echo "--- $target: libFuzzer output (last 80 lines) ---"
        tail -n 80 "$log"
        echo "--- crashing inputs in $FUZZ_ARTIFACTS/$target/ ---"
        ls -l "$FUZZ_ARTIFACTS/$target/" || true
    fi
    echo "$line"
    summary+=("$line")
done

step "fuzz: summary (${FUZZ_SECONDS}s per target, sanitizer $FUZZ_SANITIZER)"
printf '%s\n' "${summary[@]}"
echo "total executions: $total_execs"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: crashes in: ${failed[*]}"
    exit 1
fi
echo "fuzz: no crash"
