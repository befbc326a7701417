#!/usr/bin/env bash
# Measures Beckon's footprint on a Cortex-M4 and checks it against the
# budgets; prints a Markdown table for the README. Exits non-zero when a
# budget is exceeded or an image fails to run.
#
#   bash adapters/embassy/footprint/measure.sh            # the table
#   bash adapters/embassy/footprint/measure.sh --frames   # and the largest
#                                                         # stack frames
#   bash adapters/embassy/footprint/measure.sh --figures \
#       A_FLASH B_FLASH A_RAM B_RAM A_STACK B_STACK       # no measuring
#
# `--figures` takes the six figures of the table, in bytes and in its
# order, instead of building and measuring, and checks them as a real run
# does: measure_test.sh feeds it figures over budget and figures of 0 to
# see the checks fail.
#
# Images (see Cargo.toml here): (a) core-only, (b) firmware. Both built for
# thumbv7em-none-eabihf with opt-level "s", fat LTO, panic=abort and a
# 512-byte application-data limit.
#
# * Flash is .text + .rodata, static RAM is .data + .bss, from `size -A`
#   (binutils-arm-none-eabi). The 1 KiB vector table is not counted.
# * Peak stack is measured, not estimated: each image paints its free stack
#   at reset, runs one complete exchange, and reports the lowest word no
#   longer painted (QEMU's mps2-an386, output through semihosting).
#
# Every budget fails the run when exceeded, the 8 KiB stack of one exchange
# included, and so does a figure of 0 or none, which is what a failed
# measurement gives (a missing section, no stack line from QEMU). The exact
# byte counts are printed too, for the margins.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

FLASH_A_BUDGET=$((80 * 1024))
FLASH_B_BUDGET=$((160 * 1024))
RAM_A_BUDGET=$((8 * 1024))
STACK_BUDGET=$((8 * 1024))

# need, section, flash, ram and kib.
# shellcheck source=../common.sh
source "$here/../common.sh"

target_dir="${CARGO_TARGET_DIR:-$here/target}"
elf() { echo "$target_dir/thumbv7em-none-eabihf/release/$1"; }

peak_stack() { # image -> peak stack in bytes; fails if the exchange failed
    local out
    out="$(timeout 120 qemu-system-arm -M mps2-an386 -nographic \
        -semihosting-config enable=on,target=native -kernel "$(elf "$1")" 2>&1)" || {
        echo "measure.sh: $1 failed in QEMU: $out" >&2
        return 1
    }
    echo "$out" | sed -n 's/.*exchange ok; peak stack \([0-9]*\) bytes.*/\1/p'
}

if [ "${1:-}" = "--figures" ]; then
    [ "$#" -eq 7 ] || { echo "measure.sh: --figures takes six figures" >&2; exit 2; }
    a_flash=$2 b_flash=$3 a_ram=$4 b_ram=$5 a_stack=$6 b_stack=$7
else
    need arm-none-eabi-size binutils-arm-none-eabi
    need qemu-system-arm qemu-system-arm
    rustup target add thumbv7em-none-eabihf >/dev/null 2>&1 || true
    cargo build --release --locked --bins >&2
    a_flash=$(flash "$(elf core-only)")
    a_ram=$(ram "$(elf core-only)")
    b_flash=$(flash "$(elf firmware)")
    b_ram=$(ram "$(elf firmware)")
    a_stack=$(peak_stack core-only)
    b_stack=$(peak_stack firmware)
fi

# The checks, in this shell: a failure noted inside the table's $(...) was
# lost with its subshell. Each figure must be a number above 0 and within
# its budget, if it has one.
failed=0
check() { # name, figure, budget or "" -> verdict_<name>: ok, **OVER** or ""
    local verdict=""
    if ! [[ "$2" =~ ^[0-9]+$ ]] || [ "$2" -eq 0 ]; then
        echo "measure.sh: $1: no figure (\"$2\"): the measurement failed" >&2
        failed=1
        verdict="**NO FIGURE**"
    elif [ -n "$3" ] && [ "$2" -gt "$3" ]; then
        echo "measure.sh: $1: $2 bytes, over its budget of $3" >&2
        failed=1
        verdict="**OVER**"
    elif [ -n "$3" ]; then
        verdict="ok"
    fi
    printf -v "verdict_$1" '%s' "$verdict"
}
check a_flash "$a_flash" "$FLASH_A_BUDGET"
check b_flash "$b_flash" "$FLASH_B_BUDGET"
check a_ram "$a_ram" "$RAM_A_BUDGET"
check b_ram "$b_ram" ""
check a_stack "$a_stack" "$STACK_BUDGET"
check b_stack "$b_stack" ""

cat <<EOF
| Budget | Binary | Limit | Measured | |
| --- | --- | --- | --- | --- |
| Flash (\`.text\` + \`.rodata\`) | (a) core only | $(kib "$FLASH_A_BUDGET") | $(kib "$a_flash") | $verdict_a_flash |
| Flash (\`.text\` + \`.rodata\`) | (b) firmware-shaped | $(kib "$FLASH_B_BUDGET") | $(kib "$b_flash") | $verdict_b_flash |
| Static RAM (\`.data\` + \`.bss\`) | (a) core only | $(kib "$RAM_A_BUDGET") | $(kib "$a_ram") | $verdict_a_ram |
| Static RAM (\`.data\` + \`.bss\`) | (b) firmware-shaped | — | $(kib "$b_ram") |${verdict_b_ram:+ $verdict_b_ram} |
| Peak stack of one exchange | (a) core only | $(kib "$STACK_BUDGET") | $(kib "$a_stack") | $verdict_a_stack |
| Peak stack | (b) firmware-shaped | — | $(kib "$b_stack") |${verdict_b_stack:+ $verdict_b_stack} |

Cortex-M4 (\`thumbv7em-none-eabihf\`), opt-level "s", fat LTO, panic=abort,
512-byte application data; curve25519-dalek without precomputed tables.
(a) keeps both state machines (3.5 KiB each, made \`idle\` and started in
place), both identities and the directory in static memory, as a firmware
does; (b) runs its futures in \`block_on\` on the stack, so its stack holds
what an embassy executor would keep in static task storage. Stack measured
by painting, in QEMU (mps2-an386).
EOF

echo
echo "In bytes: flash (a) $a_flash of $FLASH_A_BUDGET, (b) $b_flash of $FLASH_B_BUDGET;" \
    "static RAM (a) $a_ram of $RAM_A_BUDGET; peak stack (a) $a_stack of $STACK_BUDGET."

if [ "${1:-}" = "--frames" ]; then
    echo
    echo "Largest stack frames in (a) (bytes, function):"
    arm-none-eabi-objdump -d --no-show-raw-insn -C "$(elf core-only)" | awk '
        /^[0-9a-f]+ <.*>:$/ { fn = substr($0, index($0, "<") + 1); sub(/>:$/, "", fn); next }
        match($0, /sub(\.w|w)?[ \t]+sp, (sp, )?#[0-9]+/) {
            s = substr($0, RSTART, RLENGTH); sub(/.*#/, "", s); frame[fn] += s
        }
        END { for (f in frame) print frame[f], f }' | sort -rn | head -12 | cut -c1-140
fi

exit "$failed"
