#!/usr/bin/env bash
# The embedded half of CI for beckon-embassy, called from .ci/run (the host
# tests run there with `cargo test --workspace`). Installs what it needs:
# the thumbv7em-none-eabihf target, and through apt (when missing) QEMU and
# binutils-arm-none-eabi for the footprint.
#
#   bash adapters/embassy/ci.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n=== %s ===\n' "$*"; }

step "embassy: toolchain"
rustup target add thumbv7em-none-eabihf
for tool in qemu-system-arm:qemu-system-arm arm-none-eabi-size:binutils-arm-none-eabi; do
    if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
        command -v apt-get >/dev/null 2>&1 || { echo "no apt-get to install ${tool#*:}" >&2; exit 1; }
        apt-get install -y -qq "${tool#*:}" >/dev/null ||
            { apt-get update -qq && apt-get install -y -qq "${tool#*:}" >/dev/null; }
    fi
done

# The library alone, as firmware links it: no_std, no executor, no time
# driver. The feature sets a firmware picks from: the defaults (IPv4 over
# Ethernet), IP-only links, and each logging back end.
step "embassy: beckon-embassy for thumbv7em-none-eabihf"
for features in "" "--no-default-features --features proto-ipv4,medium-ip" \
    "--features log" "--features defmt" "--features proto-ipv6"; do
    echo "features: ${features:-default}"
    # shellcheck disable=SC2086 # the feature flags are meant to split
    cargo clippy -p beckon-embassy --release --target thumbv7em-none-eabihf $features -- -D warnings
done
cargo build -p beckon-embassy --release --target thumbv7em-none-eabihf

# In the crate's directory, so that its .cargo/config.toml applies and
# clippy lints the thumbv7em build the images are, not a host build.
step "embassy: footprint images (fmt, clippy)"
(
    cd adapters/embassy/footprint
    cargo fmt -- --check
    cargo clippy --release --locked --bins -- -D warnings
)

step "embassy: footprint on a Cortex-M4 (budgets checked; runs both images in QEMU)"
bash adapters/embassy/footprint/measure.sh

# The example firmware (its own .cargo/config.toml picks the target, so
# cargo runs in its directory); it builds where e2e.sh builds it.
step "embassy: example firmware for QEMU (fmt, clippy)"
(
    cd adapters/embassy/firmware-qemu
    if [ -n "${CARGO_TARGET_DIR:-}" ]; then export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/firmware-qemu"; fi
    cargo fmt -- --check
    cargo clippy --release --locked --bins -- -D warnings
)

step "embassy: example firmware end to end (QEMU mps2-an386, the beckon CLI)"
bash adapters/embassy/firmware-qemu/e2e.sh
