//! The embassy-time driver: SysTick, from the 25 MHz core clock, with an
//! interrupt every millisecond. The time is the milliseconds counted plus
//! the SysTick's current count, so it reads to the microsecond (embassy's
//! tick is 1 µs); alarms are checked on each millisecond's interrupt.
//!
//! Under `qemu-system-arm -icount shift=0`, QEMU's virtual clock advances
//! 1 ns per instruction executed, and SysTick counts virtual time: so
//! [`clock_ticks`] (40 ns each) also counts instructions, 40 per tick.

use core::cell::RefCell;
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::Waker;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::exception;
use critical_section::Mutex;

/// The core clock of mps2-an386, which SysTick counts.
pub const CORE_HZ: u32 = 25_000_000;
/// Core clock ticks per millisecond.
const PER_MS: u32 = CORE_HZ / 1000;
/// Core clock ticks per embassy tick (1 µs).
const PER_US: u64 = (CORE_HZ / 1_000_000) as u64;
/// Alarms that can be pending at once. The firmware runs one task, so one
/// waker is scheduled at a time; a full table wakes at once instead
/// (a spurious wake-up is allowed).
const ALARMS: usize = 4;

static MILLIS: AtomicU32 = AtomicU32::new(0);
type Alarm = Option<(u64, Waker)>;
static WAKE_AT: Mutex<RefCell<[Alarm; ALARMS]>> =
    Mutex::new(RefCell::new([const { None }; ALARMS]));

/// Starts SysTick: an interrupt every millisecond.
pub fn start(syst: &mut SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(PER_MS - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Core clock ticks (25 MHz) since [`start`]. Call it from thread mode
/// with interrupts enabled (it rereads the milliseconds until the
/// SysTick interrupt did not slip in between).
pub fn clock_ticks() -> u64 {
    loop {
        let before = MILLIS.load(Ordering::Acquire);
        let current = SYST::get_current();
        if MILLIS.load(Ordering::Acquire) == before {
            return u64::from(before) * u64::from(PER_MS) + u64::from(PER_MS - 1 - current);
        }
    }
}

#[exception]
fn SysTick() {
    let millis = MILLIS.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
    let now = u64::from(millis) * 1000;
    critical_section::with(|cs| {
        for slot in WAKE_AT.borrow_ref_mut(cs).iter_mut() {
            if slot.as_ref().is_some_and(|(at, _)| *at <= now) {
                if let Some((_, waker)) = slot.take() {
                    waker.wake();
                }
            }
        }
    });
}

struct SysTickDriver;

impl embassy_time_driver::Driver for SysTickDriver {
    fn now(&self) -> u64 {
        clock_ticks() / PER_US
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        let now = self.now();
        let queued = at > now
            && critical_section::with(|cs| {
                let mut slots = WAKE_AT.borrow_ref_mut(cs);
                if let Some((when, _)) =
                    slots.iter_mut().flatten().find(|(_, w)| w.will_wake(waker))
                {
                    *when = (*when).min(at);
                    return true;
                }
                match slots.iter_mut().find(|slot| slot.is_none()) {
                    Some(free) => {
                        *free = Some((at, waker.clone()));
                        true
                    }
                    None => false,
                }
            });
        if !queued {
            waker.wake_by_ref();
        }
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver);
