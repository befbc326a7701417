#!/usr/bin/env bash
# The benchmark's quick mode, for CI (call it from .ci/run).
#
# Builds the report in release mode and runs it with fewer rounds and a
# smaller load test (a few seconds once built), writing its report.md and
# report.json under the target directory, not over the committed full
# report in bench/. It fails only on a sanity check: an allocation in the
# core, more bytes on the wire than the bounds, an invitation not accepted,
# a workload that errs. Timings and goals are printed, never asserted, so
# a noisy machine cannot fail it. (The criterion benches are compiled by
# the workspace's `cargo clippy --all-targets`; building them again in the
# bench profile would cost CI a minute for nothing more.)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${CARGO_TARGET_DIR:-target}/beckon-bench-quick"

cargo build -q -p beckon-bench --release
started=$(date +%s)
cargo run -q -p beckon-bench --release -- --quick --out "$out"
echo "beckon-bench: quick mode ran in $(( $(date +%s) - started )) s; report in $out"
