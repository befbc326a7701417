//! The deadlines of a session, in one table indexed by what they are for
//! (as quinn-proto's `TimerTable` is).

use embassy_time::{Duration, Instant};

/// What a deadline is for (`docs/protocol.md` §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The handshake must be over by then.
    Handshake,
    /// The answer must have come (inviter) or been given (invitee) by then;
    /// while cancelling, the acknowledgement of the Cancel.
    Answer,
    /// The next keepalive is due.
    Keepalive,
    /// The peer has been silent too long.
    Idle,
}

impl Timer {
    /// Every timer, in the order they are checked when several are due at
    /// once: an answer deadline wins over silence, silence over a
    /// keepalive.
    pub(crate) const ALL: [Timer; 4] = [
        Timer::Handshake,
        Timer::Answer,
        Timer::Idle,
        Timer::Keepalive,
    ];

    const fn index(self) -> usize {
        match self {
            Timer::Handshake => 0,
            Timer::Answer => 1,
            Timer::Keepalive => 2,
            Timer::Idle => 3,
        }
    }
}

/// The pending deadlines. Only the timers that matter in the current state
/// are set, so the next deadline is simply the earliest one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Timers([Option<Instant>; 4]);

impl Timers {
    /// No timer set.
    pub(crate) const fn new() -> Self {
        Timers([None; 4])
    }

    /// Sets `timer` to fire at `at`.
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(slot) = self.0.get_mut(timer.index()) {
            *slot = Some(at);
        }
    }

    /// Sets `timer` to fire `d` after `now`.
    pub(crate) fn set_after(&mut self, timer: Timer, now: Instant, d: Duration) {
        self.set(timer, after(now, d));
    }

    /// Stops `timer`.
    pub(crate) fn stop(&mut self, timer: Timer) {
        if let Some(slot) = self.0.get_mut(timer.index()) {
            *slot = None;
        }
    }

    /// When `timer` fires, if it is set.
    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.0.get(timer.index()).copied().flatten()
    }

    /// Stops every timer.
    pub(crate) fn clear(&mut self) {
        *self = Timers::new();
    }

    /// The earliest deadline, `None` if no timer is set.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    /// The first timer, in [`Timer::ALL`]'s order, that has come at `now`.
    pub(crate) fn expired(&self, now: Instant) -> Option<Timer> {
        Timer::ALL
            .into_iter()
            .find(|&t| self.get(t).is_some_and(|at| now >= at))
    }
}

/// `now + d`, saturating at the end of time instead of panicking.
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or(Instant::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_deadline_is_the_earliest_set() {
        let mut t = Timers::new();
        assert_eq!(t.next(), None);
        t.set(Timer::Idle, Instant::from_secs(45));
        t.set(Timer::Keepalive, Instant::from_secs(15));
        assert_eq!(t.next(), Some(Instant::from_secs(15)));
        t.stop(Timer::Keepalive);
        assert_eq!(t.next(), Some(Instant::from_secs(45)));
    }

    #[test]
    fn an_answer_deadline_wins_over_silence_and_keepalive() {
        let mut t = Timers::new();
        t.set(Timer::Keepalive, Instant::from_secs(1));
        t.set(Timer::Idle, Instant::from_secs(1));
        assert_eq!(t.expired(Instant::from_secs(1)), Some(Timer::Idle));
        t.set(Timer::Answer, Instant::from_secs(1));
        assert_eq!(t.expired(Instant::from_secs(1)), Some(Timer::Answer));
        assert_eq!(t.expired(Instant::from_millis(999)), None);
    }

    #[test]
    fn time_saturates_at_its_end() {
        assert_eq!(after(Instant::MAX, Duration::from_secs(1)), Instant::MAX);
    }
}
