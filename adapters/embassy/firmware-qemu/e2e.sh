#!/usr/bin/env bash
# End-to-end test of the example firmware: boots it in QEMU (mps2-an386,
# its LAN9118 on QEMU's user network) and invites it with the real `beckon`
# command line, through a forwarded port on 127.0.0.1:
#
#   1. the trusted inviter (keys/inviter/) is accepted: exit 0, and the
#      firmware logs the launch (fingerprint, application, message);
#   2. a stranger (a fresh `beckon init`) is refused: exit 3;
#   3. a contact whose key is not the firmware's, at the firmware's
#      endpoint: contact mismatch, exit 4 (nothing of the invitation sent);
#   4. the message "ignore", which the firmware leaves unanswered: it
#      expires after the firmware's 5 s, exit 2.
#
# Then prints the figures (flash, static RAM, peak stack, instructions per
# exchange, and while a prompt waits) as a Markdown table. QEMU runs with
# `-icount shift=0`, so the firmware's busy time (see src/executor.rs)
# counts instructions.
#
#   bash adapters/embassy/firmware-qemu/e2e.sh
#
# Honours CARGO_TARGET_DIR (the firmware then builds in
# $CARGO_TARGET_DIR/firmware-qemu). QEMU is always shut down on exit.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"

APP=67e55044-10b1-426f-9247-bb680e5fe0c8 # Chess, registered in the firmware
BOOT_TIMEOUT=60                          # seconds for the firmware to listen
INVITE_TIMEOUT=120                       # seconds for one `beckon invite`

# need, section, flash, ram and kib.
# shellcheck source=../common.sh
source "$here/../common.sh"

say() { printf '\n== %s\n' "$*"; }
indent() { sed 's/^/   | /'; }

started=$SECONDS
need qemu-system-arm qemu-system-arm
need arm-none-eabi-size binutils-arm-none-eabi
rustup target add thumbv7em-none-eabihf >/dev/null 2>&1 || true

# --- Build -----------------------------------------------------------------
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    fw_target="$CARGO_TARGET_DIR/firmware-qemu"
    beckon_target="$CARGO_TARGET_DIR"
else
    fw_target="$here/target"
    beckon_target="$root/target"
fi
say "building the firmware (release, --locked) and beckon (release)"
(cd "$here" && CARGO_TARGET_DIR="$fw_target" cargo build --release --locked)
(cd "$root" && CARGO_TARGET_DIR="$beckon_target" cargo build --release --bin beckon)
fw="$fw_target/thumbv7em-none-eabihf/release/firmware-qemu"
beckon="$beckon_target/release/beckon"

# --- Clean-up, whatever happens ----------------------------------------------
work="$(mktemp -d)"
qemu_pid=""
log="$work/firmware.log"
cleanup() {
    local rc=$?
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -f "$log" ]; then
        echo "e2e.sh: FAILED (exit $rc); the firmware's log:" >&2
        indent <"$log" >&2
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "e2e.sh: FAIL: $*" >&2; exit 1; }

# --- Boot ----------------------------------------------------------------------
say "booting the firmware in QEMU (mps2-an386, -icount shift=0, user network)"
port=""
for _ in 1 2 3 4 5; do
    candidate=$((20000 + RANDOM % 40000))
    # Something answers there already: try another port.
    if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then continue; fi
    : >"$log"
    qemu-system-arm -M mps2-an386 -nographic -icount shift=0 \
        -semihosting-config enable=on,target=native -kernel "$fw" \
        -nic "user,model=lan9118,hostfwd=tcp:127.0.0.1:$candidate-:7464" \
        </dev/null >"$log" 2>&1 &
    qemu_pid=$!
    for _ in $(seq $((BOOT_TIMEOUT * 10))); do
        grep -q "listening on" "$log" && break
        kill -0 "$qemu_pid" 2>/dev/null || break
        sleep 0.1
    done
    if grep -q "listening on" "$log"; then
        port=$candidate
        break
    fi
    if kill -0 "$qemu_pid" 2>/dev/null; then
        fail "the firmware did not listen within $BOOT_TIMEOUT s"
    fi
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=""
    grep -q "hostfwd\|host forwarding" "$log" || fail "QEMU exited"
done
[ -n "$port" ] || fail "no free port for QEMU's forwarding"
echo "   QEMU pid $qemu_pid; the firmware's port 7464 is at 127.0.0.1:$port"
shown=0
show_log() { # prints the firmware's new log lines
    local total
    total=$(wc -l <"$log")
    if [ "$total" -gt "$shown" ]; then
        sed -n "$((shown + 1)),${total}p" "$log" | sed 's/^/   firmware> /'
    fi
    shown=$total
}
show_log

card="$(sed -n 's/^firmware-qemu: card //p' "$log")"
[ "$(cut -d' ' -f1,2 <<<"$card")" = "$(cut -d' ' -f1,2 "$here/keys/firmware.pub")" ] ||
    fail "the firmware's key is not keys/firmware.pub"

exchanges=0
wait_exchange() { # waits for the firmware's next "exchange N:" line
    exchanges=$((exchanges + 1))
    for _ in $(seq 300); do
        grep -q "^exchange $exchanges:" "$log" && return 0
        sleep 0.1
    done
    fail "the firmware logged no end of exchange $exchanges"
}

invite() { # expected exit code, home, beckon invite's arguments
    local expect=$1 home=$2 rc=0 start=$SECONDS
    shift 2
    echo "   \$ beckon invite $*"
    BECKON_HOME="$home" timeout "$INVITE_TIMEOUT" "$beckon" invite "$@" >"$work/out" 2>&1 || rc=$?
    indent <"$work/out"
    [ "$rc" -eq "$expect" ] || fail "beckon invite exited $rc, expected $expect"
    echo "   exit $rc, as expected ($((SECONDS - start)) s)"
}

beckon_home() { # name, beckon init's arguments -> a fresh home with the firmware as a contact
    local home="$work/$1"
    shift
    mkdir -p "$home"
    BECKON_HOME="$home" "$beckon" init "$@" >/dev/null
    BECKON_HOME="$home" "$beckon" contact add firmware "$here/keys/firmware.pub" >/dev/null
    echo "$home"
}

# --- 1. The trusted inviter: accepted, launched ---------------------------------
say "1. the trusted inviter (keys/inviter/id_ed25519): accepted, exit 0"
trusted="$(beckon_home trusted --import-openssh "$here/keys/inviter/id_ed25519")"
fingerprint="$(BECKON_HOME="$trusted" "$beckon" id | grep -o 'SHA256:[A-Za-z0-9+/]*' | head -1)"
message="e2e: a game of chess?"
invite 0 "$trusted" firmware "127.0.0.1:$port" --app "$APP" -m "$message"
wait_exchange
show_log
grep -qF "launch: inviter $fingerprint application $APP message \"$message\"" "$log" ||
    fail "no launch line with $fingerprint, $APP and the message"
grep -q "^exchange 1: accepted;" "$log" || fail "exchange 1 was not accepted"
echo "   launch logged: inviter $fingerprint, application $APP, message \"$message\""

# --- 2. A stranger: refused by the policy ---------------------------------------
say "2. a stranger (a fresh identity): refused, exit 3"
stranger="$(beckon_home stranger --nickname stranger)"
invite 3 "$stranger" firmware "127.0.0.1:$port" --app "$APP" -m "hello?"
wait_exchange
show_log
grep -q "^exchange 2: refused;" "$log" || fail "exchange 2 was not refused"

# --- 3. The wrong expected key: contact mismatch ---------------------------------
say "3. a contact whose key is not the firmware's, at its endpoint: mismatch, exit 4"
# The stranger's key, under a name the trusted inviter gives it.
BECKON_HOME="$trusted" "$beckon" contact add impostor "$stranger/id_ed25519.pub" >/dev/null
before=$(wc -l <"$log")
invite 4 "$trusted" impostor "127.0.0.1:$port" --app "$APP" -m "for the impostor"
wait_exchange
show_log
if tail -n "+$((before + 1))" "$log" | grep -q "^prompt:"; then
    fail "the firmware was shown an invitation meant for someone else"
fi

# --- 4. Left unanswered: expires -------------------------------------------------
say "4. the message \"ignore\": the firmware never answers, it expires after 5 s, exit 2"
invite 2 "$trusted" firmware "127.0.0.1:$port" --app "$APP" -m "ignore"
wait_exchange
show_log
grep -q "^exchange 4: expired;" "$log" || fail "exchange 4 did not expire"
# Waiting must cost (almost) nothing: a few polls for TCP and the deadline,
# tens of thousands of instructions. Millions would mean a task woken over
# and over while idle.
wait_busy="$(sed -n 's/^exchange 4: .*; from the prompt: busy \([0-9]*\) ns.*/\1/p' "$log")"
[ -n "$wait_busy" ] && [ "$wait_busy" -lt 500000 ] ||
    fail "the 5 s wait cost ${wait_busy:-?} instructions (expected under 500000)"

# --- Figures ----------------------------------------------------------------------
boot_stack="$(sed -n 's/^firmware-qemu: peak stack at boot \([0-9]*\) bytes.*/\1/p' "$log")"
flash=$(flash "$fw")
ram=$(ram "$fw")
figure() { # exchange number, field (stack | busy) -> number
    sed -n "s/^exchange $1: [a-z]*; peak stack \([0-9]*\) bytes; busy \([0-9]*\) ns.*/\1 \2/p" "$log" |
        awk -v f="$2" '{ print (f == "stack") ? $1 : $2 }'
}
waiting() { # exchange number, field (busy | ms | wakeups) -> number, from the prompt to the end
    sed -n "s/^exchange $1: .*; from the prompt: busy \([0-9]*\) ns in \([0-9]*\) ms, \([0-9]*\) wake-ups.*/\1 \2 \3/p" "$log" |
        awk -v f="$2" '{ print (f == "busy") ? $1 : (f == "ms") ? $2 : $3 }'
}
mega() { awk -v n="$1" 'BEGIN { printf "%.2f M", n / 1e6 }'; }

say "all four cases passed in $((SECONDS - started)) s; figures"
cat <<TABLE

| Figure | Measured |
| --- | --- |
| Flash (\`.text\` + \`.rodata\`) | $(kib "$flash") ($flash bytes) |
| Static RAM (\`.data\` + \`.bss\`) | $(kib "$ram") ($ram bytes) |
| Peak stack at boot (painted) | $(kib "$boot_stack") ($boot_stack bytes) |
| Peak stack while serving: four exchanges (painted) | $(kib "$(figure 4 stack)") ($(figure 4 stack) bytes) |
| Instructions, accepted exchange (invitee) | $(mega "$(figure 1 busy)") ($(figure 1 busy)) |
| Instructions, refused exchange (stranger) | $(mega "$(figure 2 busy)") ($(figure 2 busy)) |
| Instructions, contact mismatch (handshake only: no signature to verify) | $(mega "$(figure 3 busy)") ($(figure 3 busy)) |
| Instructions, expired exchange | $(mega "$(figure 4 busy)") ($(figure 4 busy)) |
| Instructions while its prompt waited $(waiting 4 ms) ms to expire | $(mega "$(waiting 4 busy)") ($(waiting 4 busy)); $(waiting 4 wakeups) wake-ups |

Cortex-M4 (\`thumbv7em-none-eabihf\`), opt-level "s", fat LTO, panic=abort,
512-byte application data, two invitee sessions, QEMU mps2-an386.
Instructions, not cycles: QEMU runs with \`-icount shift=0\` (1 instruction
= 1 ns of virtual time) and the firmware adds up the time it spends polling
its tasks (not its idle WFI, nor the interrupt handlers), from the end of
the previous exchange to the end of this one, the poll in progress counted
up to that moment: TCP, the handshake (the invitee's X25519 and Ed25519
signature, then the inviter's signature checked with verify_strict, which
a contact mismatch never reaches), the directory, the answer; logging left
out. Waiting costs next to nothing (the last row): the time driver is
tickless, so the core sleeps until an alarm is due, a frame arrives or
SysTick wraps (every 0.67 s), and polls only a few times, for TCP and the
deadline. Interrupt handlers are not counted: tens of instructions each.
TABLE
