//! The embassy-time driver, tickless: two timers of the 25 MHz core clock.
//!
//! * **The time** is SysTick's, free-running over its full 24 bits: it
//!   interrupts once per wrap (2^24 ticks, 0.67 s) to count the wraps, and
//!   the time is the wraps counted plus the current count, so it reads to
//!   the tick (embassy's tick is 1 µs).
//! * **The alarms** are the CMSDK APB timer 0's (at `0x4000_0000`, line 8 of
//!   the NVIC on mps2-an386: QEMU's hw/arm/mps2.c), run one-shot: it
//!   interrupts when the earliest alarm is due, not before, and is stopped
//!   when none is pending.
//!
//! So the core sleeps until something is due: an idle firmware wakes 1.5
//! times a second (SysTick's wraps), not every millisecond.
//!
//! Under `qemu-system-arm -icount shift=0`, QEMU's virtual clock advances
//! 1 ns per instruction executed, and both timers count virtual time: so
//! [`clock_ticks`] (40 ns each) also counts instructions, 40 per tick.

use core::cell::RefCell;
use core::ptr::write_volatile;
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::Waker;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{NVIC, SCB, SYST};
use cortex_m_rt::exception;
use critical_section::{CriticalSection, Mutex};

/// The core clock of mps2-an386, which both timers count.
pub const CORE_HZ: u32 = 25_000_000;
/// Core clock ticks per embassy tick (1 µs).
const PER_US: u64 = (CORE_HZ / 1_000_000) as u64;
/// SysTick's period: its full 24 bits.
const WRAP: u64 = 1 << 24;
/// Alarms that can be pending at once. The firmware runs two tasks, so
/// two wakers are scheduled at a time; a full table wakes at once instead
/// (a spurious wake-up is allowed).
const ALARMS: usize = 4;

/// The CMSDK APB timer 0: its registers, and its interrupt line.
const TIMER0: usize = 0x4000_0000;
const TIMER_CTRL: usize = 0x00;
const TIMER_VALUE: usize = 0x04;
const TIMER_RELOAD: usize = 0x08;
const TIMER_INTCLEAR: usize = 0x0c;
const TIMER_CTRL_ENABLE: u32 = 1;
const TIMER_CTRL_IRQ: u32 = 1 << 3;
/// The timer's interrupt: external interrupt 8.
pub const TIMER_IRQ: u16 = 8;

static WRAPS: AtomicU32 = AtomicU32::new(0);
type Alarm = Option<(u64, Waker)>;
static WAKE_AT: Mutex<RefCell<[Alarm; ALARMS]>> =
    Mutex::new(RefCell::new([const { None }; ALARMS]));

/// Writes a register of the CMSDK APB timer 0.
fn timer_write(offset: usize, value: u32) {
    // SAFETY: TIMER0..TIMER0 + 0x1000 is the CMSDK APB timer 0's register
    // window on this board, not memory that Rust owns; `offset` is one of
    // its word-aligned registers above. Only this module touches it.
    unsafe { write_volatile((TIMER0 + offset) as *mut u32, value) }
}

/// Starts the time (SysTick, free-running) and readies the alarm timer
/// (stopped, one-shot: a zero reload value; its interrupt unmasked).
pub fn start(syst: &mut SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload((WRAP - 1) as u32);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();

    timer_write(TIMER_CTRL, 0);
    timer_write(TIMER_RELOAD, 0);
    timer_write(TIMER_INTCLEAR, 1);
    #[derive(Clone, Copy)]
    struct Line;
    // SAFETY: `number` returns a valid interrupt number of this device.
    unsafe impl cortex_m::interrupt::InterruptNumber for Line {
        fn number(self) -> u16 {
            TIMER_IRQ
        }
    }
    // SAFETY: as for the Ethernet's line (lan9118::enable_interrupt): the
    // firmware's critical sections mask through PRIMASK, not the NVIC.
    unsafe { NVIC::unmask(Line) }
}

/// Core clock ticks (25 MHz) since [`start`]. Correct anywhere, interrupt
/// handlers and critical sections included, as long as interrupts are not
/// held off for a whole wrap (0.67 s): a wrap whose interrupt is still
/// pending is counted.
pub fn clock_ticks() -> u64 {
    loop {
        let wraps = WRAPS.load(Ordering::Acquire);
        let before = SYST::get_current();
        let pending = SCB::is_pendst_pending();
        let after = SYST::get_current();
        if WRAPS.load(Ordering::Acquire) == wraps {
            // SysTick counts down to 0, pending its interrupt as it gets
            // there, then reloads: 0 is a period's last tick. A wrap seen
            // pending came before `after` was read, so `after` is in the
            // next period unless it is that 0; one not seen pending came
            // after `before` was read.
            let (wraps, current) = match (pending, after) {
                (true, 0) => (u64::from(wraps), 0),
                (true, after) => (u64::from(wraps) + 1, after),
                (false, _) => (u64::from(wraps), before),
            };
            return wraps * WRAP + (WRAP - 1 - u64::from(current));
        }
    }
}

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::AcqRel);
}

/// The alarm timer's interrupt: wakes the alarms that are due, and sets the
/// timer for the next one.
pub fn on_timer() {
    timer_write(TIMER_INTCLEAR, 1);
    critical_section::with(|cs| {
        let now = clock_ticks() / PER_US;
        for slot in WAKE_AT.borrow_ref_mut(cs).iter_mut() {
            if slot.as_ref().is_some_and(|(at, _)| *at <= now) {
                if let Some((_, waker)) = slot.take() {
                    waker.wake();
                }
            }
        }
        arm(cs);
    });
}

/// Sets the alarm timer for the earliest pending alarm, or stops it when
/// none is pending. An alarm already due fires at once (one tick); one
/// beyond the timer's 32 bits (171 s) fires early and sets it again.
fn arm(cs: CriticalSection<'_>) {
    let earliest = WAKE_AT
        .borrow_ref(cs)
        .iter()
        .flatten()
        .map(|(at, _)| *at)
        .min();
    timer_write(TIMER_CTRL, 0);
    if let Some(at) = earliest {
        let ticks = at.saturating_mul(PER_US).saturating_sub(clock_ticks());
        let ticks = u32::try_from(ticks).unwrap_or(u32::MAX).max(1);
        timer_write(TIMER_VALUE, ticks);
        timer_write(TIMER_CTRL, TIMER_CTRL_ENABLE | TIMER_CTRL_IRQ);
    }
}

struct TicklessDriver;

impl embassy_time_driver::Driver for TicklessDriver {
    fn now(&self) -> u64 {
        clock_ticks() / PER_US
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        let now = self.now();
        let queued = at > now
            && critical_section::with(|cs| {
                let queued = {
                    let mut slots = WAKE_AT.borrow_ref_mut(cs);
                    if let Some((when, _)) =
                        slots.iter_mut().flatten().find(|(_, w)| w.will_wake(waker))
                    {
                        *when = (*when).min(at);
                        true
                    } else if let Some(free) = slots.iter_mut().find(|slot| slot.is_none()) {
                        *free = Some((at, waker.clone()));
                        true
                    } else {
                        false
                    }
                };
                if queued {
                    arm(cs);
                }
                queued
            });
        if !queued {
            waker.wake_by_ref();
        }
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: TicklessDriver = TicklessDriver);
