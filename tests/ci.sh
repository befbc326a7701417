#!/usr/bin/env bash
# Deterministic simulation for CI (called from .ci/run).
#
# Runs BECKON_SIM_SEEDS seeds (default 5000) from BECKON_SIM_START (default
# 0) in release mode on every core, checks that every fault kind the
# simulation knows (the list `beckon-sim --help` prints) was injected in
# them, and that one seed replays to the same trace hash. Exits non-zero on
# any violation, after printing the seed, the invariant broken and the
# shortest trace found by shrinking. On two cores the 5,000 seeds take
# about half a minute once built.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${BECKON_SIM_SEEDS:-5000}"
start="${BECKON_SIM_START:-0}"

cargo build -q -p beckon-sim --release
sim() { cargo run -q -p beckon-sim --release -- "$@"; }

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
started=$(date +%s)
sim --seeds "$seeds" --start "$start" | tee "$log"
echo "beckon-sim: $seeds seeds in $(( $(date +%s) - started )) s"

# Every fault kind was injected: the kinds from the runner's own list, each
# with a count above 0 in the summary's "fault kinds injected:" section.
kinds=$(sim --help | sed -n '/^fault kinds:$/,$p' | awk 'NR > 1 && NF { print $1 }')
[ -n "$kinds" ] || { echo "beckon-sim: no fault kinds in --help" >&2; exit 1; }
never=""
for kind in $kinds; do
    n=$(sed -n '/^fault kinds injected:$/,/^[^ ]/p' "$log" | awk -v k="$kind" '$1 == k { print $2 }')
    if [ -z "$n" ] || [ "$n" -eq 0 ]; then never="$never $kind"; fi
done
if [ -n "$never" ]; then
    echo "beckon-sim: fault kinds never injected in $seeds seeds:$never" >&2
    exit 1
fi
echo "beckon-sim: every fault kind injected ($(wc -w <<<"$kinds") kinds)"

# The same seed twice gives the same trace.
a=$(sim --seed 4242 --trace | grep '^trace hash')
b=$(sim --seed 4242 --trace | grep '^trace hash')
if [ "$a" != "$b" ]; then
    echo "beckon-sim: seed 4242 replayed differently: $a / $b" >&2
    exit 1
fi
echo "beckon-sim: seed 4242 replays to the same $a"
