//! Painting the stack and reading its high-water mark.
//!
//! One copy for both images that measure their stack: the footprint
//! images (this crate's `stack` module) and the example firmware, which
//! compiles this file in as its own `stack` module
//! (adapters/embassy/firmware-qemu/src/main.rs).

use core::ptr::{addr_of, read_volatile, write_volatile};

extern "C" {
    /// The lowest address the stack may grow to (end of .bss and
    /// .uninit), from cortex-m-rt's link.x.
    static _stack_end: u32;
    /// The initial stack pointer: the top of RAM.
    static _stack_start: u32;
}

const PAINT: u32 = 0xC0FF_EE55;

fn bounds() -> (usize, usize) {
    // Taking a static's address is safe; only its value is not.
    (
        addr_of!(_stack_end) as usize,
        addr_of!(_stack_start) as usize,
    )
}

/// Paints the free stack, from its limit up to just below the current
/// stack pointer. Call it first thing, with little on the stack (and again
/// to start a new measurement).
#[inline(never)]
pub fn paint() {
    let (bottom, _) = bounds();
    let sp = cortex_m::register::msp::read() as usize;
    let mut at = bottom;
    while at + 64 < sp {
        // SAFETY: [bottom, sp - 64) is free stack: nothing lives there
        // yet, and the writes are aligned words inside RAM.
        unsafe { write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
}

/// The most stack used since [`paint`], in bytes: from the top of RAM
/// down to the lowest word that is no longer paint. It counts
/// everything on the stack, the reset handler's and `main`'s frames
/// included.
pub fn peak() -> usize {
    let (bottom, top) = bounds();
    let mut at = bottom;
    // SAFETY: aligned word reads inside RAM.
    while at < top && unsafe { read_volatile(at as *const u32) } == PAINT {
        at += 4;
    }
    top - at
}
