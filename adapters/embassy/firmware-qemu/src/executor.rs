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
//!   interrupt handlers that run while the core sleeps (the timers', the
//!   Ethernet's) are not counted: tens of instructions each. [`busy_ticks`]
//!   includes the poll in progress, so that a reading taken inside a task
//!   (the end of an exchange) counts exactly the work done so far: one
//!   poll can take millions of instructions (a handshake's key agreement
//!   and signature), and leaving the current one out would move that work
//!   into the next reading.

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use critical_section::Mutex;
use embassy_executor::{raw, Spawner};
use static_cell::StaticCell;

use crate::time;

static PENDING: AtomicBool = AtomicBool::new(true);
/// The busy time's accounts.
static BUSY: Mutex<Cell<Busy>> = Mutex::new(Cell::new(Busy {
    polled: 0,
    excluded: 0,
    poll_start: None,
}));
/// Times the core woke from WFI (any interrupt: SysTick's wrap every
/// 0.67 s, an alarm, the Ethernet's), whether or not a task was then polled.
static WAKEUPS: AtomicU32 = AtomicU32::new(0);
static EXECUTOR: StaticCell<raw::Executor> = StaticCell::new();

// The executor calls this when a task is woken (embassy-executor's
// `__pender` hook, as its platforms define it).
#[export_name = "__pender"]
fn pender(_context: *mut ()) {
    PENDING.store(true, Ordering::Release);
}

/// The executor's accounts.
#[derive(Clone, Copy)]
struct Busy {
    /// Core clock ticks spent in finished polls.
    polled: u64,
    /// Ticks taken out by [`exclude`] (the logging).
    excluded: u64,
    /// When the poll in progress began, if one is.
    poll_start: Option<u64>,
}

/// Core clock ticks spent polling since boot, the poll in progress
/// included (up to now), less those that [`exclude`] took out (the
/// logging).
pub fn busy_ticks() -> u64 {
    let now = time::clock_ticks();
    let busy = critical_section::with(|cs| BUSY.borrow(cs).get());
    let running = busy.poll_start.map_or(0, |start| now.saturating_sub(start));
    (busy.polled + running).saturating_sub(busy.excluded)
}

/// Times the core woke from WFI since boot (wrapping).
pub fn wakeups() -> u32 {
    WAKEUPS.load(Ordering::Relaxed)
}

/// Takes `ticks` out of the busy time (the logging's, which semihosting
/// makes slow and which a device would not do).
pub fn exclude(ticks: u64) {
    update(|busy| busy.excluded += ticks);
}

fn update(f: impl FnOnce(&mut Busy)) {
    critical_section::with(|cs| {
        let cell = BUSY.borrow(cs);
        let mut busy = cell.get();
        f(&mut busy);
        cell.set(busy);
    });
}

/// Runs the executor for ever, after `init` spawned the tasks.
pub fn run(init: impl FnOnce(Spawner)) -> ! {
    let executor: &'static raw::Executor = EXECUTOR.init(raw::Executor::new(core::ptr::null_mut()));
    init(executor.spawner());
    loop {
        while PENDING.swap(false, Ordering::AcqRel) {
            let start = time::clock_ticks();
            update(|busy| busy.poll_start = Some(start));
            // SAFETY: `poll` is called from this loop only, in thread
            // mode, never re-entrantly: the pender only sets a flag.
            unsafe { executor.poll() };
            let end = time::clock_ticks();
            update(|busy| {
                busy.polled += end.saturating_sub(start);
                busy.poll_start = None;
            });
        }
        cortex_m::interrupt::free(|_| {
            if !PENDING.load(Ordering::Acquire) {
                cortex_m::asm::wfi();
                WAKEUPS.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
}
