# Shell functions shared by footprint/measure.sh and firmware-qemu/e2e.sh,
# which source this file: installing a missing tool, and reading an
# image's sizes. Messages name the script that sourced it.

need() { # command, Debian package
    command -v "$1" >/dev/null 2>&1 && return
    if command -v apt-get >/dev/null 2>&1; then
        apt-get install -y -qq "$2" >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null && apt-get install -y -qq "$2" >/dev/null; }
    fi
    command -v "$1" >/dev/null 2>&1 || { echo "${0##*/}: $1 ($2) is needed" >&2; exit 1; }
}

section() { # elf, section name -> size in bytes (0 if absent)
    arm-none-eabi-size -A "$1" | awk -v s="$2" '$1 == s { n = $2 } END { print n + 0 }'
}
flash() { echo $(($(section "$1" .text) + $(section "$1" .rodata))); }  # elf -> bytes
ram() { echo $(($(section "$1" .data) + $(section "$1" .bss))); }       # elf -> bytes

kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }
