//! Tokio time as the core's time.

use std::time::Duration;

use embassy_time::{Instant, TICK_HZ};

/// How far "never" is: the instant [`Clock::to_tokio`] gives for
/// [`Instant::MAX`] and for anything beyond it (tokio uses the same 30
/// years for its own far future).
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Converts between tokio time and the core's [`embassy_time::Instant`].
///
/// The core never reads a clock: every call takes `now`. A `Clock` makes
/// that `now` from [`tokio::time::Instant::now`] as the time elapsed since
/// a base instant, so the core's instants start near zero and follow
/// tokio's clock exactly — including a clock paused with
/// `tokio::time::pause` and advanced by the test, or a simulated one.
/// It never calls `embassy_time::Instant::now()` (no embassy time driver
/// exists on the desktop).
///
/// Conversions round so that a sleep until [`to_tokio(t)`](Self::to_tokio)
/// never wakes before [`now`](Self::now) has reached `t`: `now` rounds
/// down to the tick, `to_tokio` rounds up to the nanosecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    base: tokio::time::Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

impl Clock {
    /// A clock whose zero is tokio's now.
    pub fn new() -> Self {
        Clock::with_base(tokio::time::Instant::now())
    }

    /// A clock whose zero is `base`.
    pub fn with_base(base: tokio::time::Instant) -> Self {
        Clock { base }
    }

    /// The tokio instant that is the core's zero.
    pub fn base(&self) -> tokio::time::Instant {
        self.base
    }

    /// The core's now.
    pub fn now(&self) -> Instant {
        self.to_core(tokio::time::Instant::now())
    }

    /// The core's instant for a tokio instant (rounded down to the tick;
    /// instants before the base are the core's zero).
    pub fn to_core(&self, t: tokio::time::Instant) -> Instant {
        let elapsed = t.saturating_duration_since(self.base);
        let ticks = elapsed.as_nanos().saturating_mul(u128::from(TICK_HZ)) / NANOS_PER_SEC;
        Instant::from_ticks(u64::try_from(ticks).unwrap_or(u64::MAX))
    }

    /// The tokio instant for a core instant (rounded up to the nanosecond),
    /// for `tokio::time::sleep_until`. Saturating: [`Instant::MAX`] and
    /// anything more than 30 years after the base map to base + 30 years,
    /// which is "never" for any session.
    pub fn to_tokio(&self, t: Instant) -> tokio::time::Instant {
        let far = self.far_future();
        if t == Instant::MAX {
            return far;
        }
        let nanos = (u128::from(t.as_ticks()) * NANOS_PER_SEC).div_ceil(u128::from(TICK_HZ));
        let Ok(nanos) = u64::try_from(nanos) else {
            return far;
        };
        self.base
            .checked_add(Duration::from_nanos(nanos))
            .map_or(far, |t| t.min(far))
    }

    fn far_future(&self) -> tokio::time::Instant {
        // An instant 30 years on always exists in practice; if it did not,
        // the base itself is the best remaining answer.
        self.base.checked_add(FAR_FUTURE).unwrap_or(self.base)
    }
}

/// The core's duration as a std duration.
pub(crate) fn to_std(d: embassy_time::Duration) -> Duration {
    Duration::from_micros(d.as_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_core_sees_paused_time_advance() {
        let clock = Clock::new();
        assert_eq!(clock.now(), Instant::from_ticks(0));
        tokio::time::sleep(Duration::from_secs(300)).await;
        assert_eq!(clock.now(), Instant::from_secs(300));
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_until_a_converted_deadline_never_wakes_early() {
        let clock = Clock::new();
        let deadline = Instant::from_micros(1_234_567);
        tokio::time::sleep_until(clock.to_tokio(deadline)).await;
        assert!(clock.now() >= deadline);
        assert_eq!(clock.to_core(clock.to_tokio(deadline)), deadline);
    }

    #[tokio::test]
    async fn the_end_of_time_maps_to_a_far_future_without_panicking() {
        let clock = Clock::new();
        let far = clock.to_tokio(Instant::MAX);
        assert_eq!(far, clock.base() + FAR_FUTURE);
        assert_eq!(
            clock.to_tokio(Instant::from_ticks(u64::MAX - 1)),
            clock.base() + FAR_FUTURE
        );
        let before = clock.base().checked_sub(Duration::from_secs(1));
        if let Some(before) = before {
            assert_eq!(clock.to_core(before), Instant::from_ticks(0));
        }
    }
}
