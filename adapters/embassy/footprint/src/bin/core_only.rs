//! Footprint image (a): beckon-core and its crypto, one complete exchange
//! in memory, both roles, no network stack.

#![no_std]
#![no_main]

use beckon_footprint::{exchange_in_memory, report, stack};
use cortex_m_rt::entry;

#[entry]
fn main() -> ! {
    stack::paint();
    let result = exchange_in_memory();
    report("core-only", result)
}
