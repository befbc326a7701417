#!/usr/bin/env bash
# Tests of measure.sh's checks, called from .ci/run: fed figures with
# `--figures` (nothing is built or run), it must exit 0 within the budgets,
# and non-zero for any figure over its budget, and for any figure of 0 or
# none (a measurement that failed).
#
#   bash adapters/embassy/footprint/measure_test.sh
set -euo pipefail
cd "$(dirname "$0")"

# The figures in the table's order: flash (a) and (b), static RAM (a) and
# (b), peak stack (a) and (b); the budgets of the three with one.
names=(a_flash b_flash a_ram b_ram a_stack b_stack)
budgets=($((80 * 1024)) $((160 * 1024)) $((8 * 1024)) "" $((8 * 1024)) "")
within=(60000 120000 4000 6000 5000 40000)

failures=0
runs=0
# expect CODE (0 or nonzero), what, figures...
expect() {
    local want=$1 what=$2 code=0 out
    shift 2
    runs=$((runs + 1))
    out="$(bash measure.sh --figures "$@" 2>&1)" || code=$?
    if { [ "$want" = 0 ] && [ "$code" -ne 0 ]; } || { [ "$want" != 0 ] && [ "$code" -eq 0 ]; }; then
        echo "FAIL: $what: measure.sh --figures $* exited $code, expected $want" >&2
        echo "$out" | sed 's/^/    /' >&2
        failures=$((failures + 1))
    fi
}
# The figures within budget with figure $1 replaced by $2.
with() {
    local i figures=("${within[@]}")
    for i in "${!names[@]}"; do
        if [ "${names[$i]}" = "$1" ]; then figures[i]=$2; fi
    done
    echo "${figures[@]}"
}

# shellcheck disable=SC2046 # with prints the figures to split
{
    expect 0 "every figure within its budget" "${within[@]}"
    for i in "${!names[@]}"; do
        name=${names[$i]} budget=${budgets[$i]}
        if [ -n "$budget" ]; then
            expect 0 "$name exactly at its budget" $(with "$name" "$budget")
            expect nonzero "$name one byte over its budget" $(with "$name" $((budget + 1)))
            expect nonzero "$name far over its budget" $(with "$name" $((budget * 10)))
        fi
        expect nonzero "$name of 0" $(with "$name" 0)
        expect nonzero "$name not a number" $(with "$name" "12x")
    done
    expect nonzero "no stack figure at all" "${within[@]:0:4}" "" "${within[5]}"
    expect nonzero "five figures" "${within[@]:0:5}"
}

if [ "$failures" -ne 0 ]; then
    echo "measure_test.sh: $failures of $runs cases failed" >&2
    exit 1
fi
echo "measure_test.sh: all $runs cases as expected"
