//! The executor: embassy's raw executor in a loop of our own, for two
//! reasons.
//!
//! * **Sleeping.** embassy-executor's Cortex-M thread executor sleeps with
//!   WFE, which QEMU runs as a no-op: the guest would spin and burn a host
//!   core. This loop sleeps with WFI, which QEMU does halt on. The pender
//!   (called when a task is woken, from an interrupt or from a task) sets
//!   a flag; the loop checks it with interrupts masked before WFI, so a
//!   wake-up cannot slip in between (a pending interrupt still ends WFI).
//! * **Counting busy time.** The loop adds up the time spent polling, in
//!   core clock ticks: the firmware's work, not its waiting. Under QEMU's
//!   `-icount shift=0` that is a count of instructions (40 per tick). The
//!   interrupt handlers that run while the core sleeps (SysTick, the
//!   Ethernet's) are not counted: tens of instructions each.

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, Ordering};

use critical_section::Mutex;
use embassy_executor::{raw, Spawner};
use static_cell::StaticCell;

use crate::time;

static PENDING: AtomicBool = AtomicBool::new(true);
/// Core clock ticks spent polling tasks, and those spent logging.
static BUSY: Mutex<Cell<(u64, u64)>> = Mutex::new(Cell::new((0, 0)));
static EXECUTOR: StaticCell<raw::Executor> = StaticCell::new();

// The executor calls this when a task is woken (embassy-executor's
// `__pender` hook, as its platforms define it).
#[export_name = "__pender"]
fn pender(_context: *mut ()) {
    PENDING.store(true, Ordering::Release);
}

/// Core clock ticks spent polling since boot, less those that [`exclude`]
/// took out (the logging).
pub fn busy_ticks() -> u64 {
    let (busy, excluded) = critical_section::with(|cs| BUSY.borrow(cs).get());
    busy.saturating_sub(excluded)
}

/// Takes `ticks` out of the busy time (the logging's, which semihosting
/// makes slow and which a device would not do).
pub fn exclude(ticks: u64) {
    critical_section::with(|cs| {
        let cell = BUSY.borrow(cs);
        let (busy, excluded) = cell.get();
        cell.set((busy, excluded + ticks));
    });
}

/// Runs the executor for ever, after `init` spawned the tasks.
pub fn run(init: impl FnOnce(Spawner)) -> ! {
    let executor: &'static raw::Executor = EXECUTOR.init(raw::Executor::new(core::ptr::null_mut()));
    init(executor.spawner());
    loop {
        while PENDING.swap(false, Ordering::AcqRel) {
            let start = time::clock_ticks();
            // SAFETY: `poll` is called from this loop only, in thread
            // mode, never re-entrantly: the pender only sets a flag.
            unsafe { executor.poll() };
            let spent = time::clock_ticks().saturating_sub(start);
            critical_section::with(|cs| {
                let cell = BUSY.borrow(cs);
                let (busy, excluded) = cell.get();
                cell.set((busy + spent, excluded));
            });
        }
        cortex_m::interrupt::free(|_| {
            if !PENDING.load(Ordering::Acquire) {
                cortex_m::asm::wfi();
            }
        });
    }
}
