//! Timeouts shared by both roles.

use embassy_time::{Duration, Instant};

use crate::error::{ArgumentError, Error};
use crate::limits::{DEFAULT_GRACE, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT};

/// The timers of a session (`docs/protocol.md` §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// How long the invitee's user has to answer, from the Invite's arrival
    /// (default 5 minutes). The inviter waits this long plus `grace` from
    /// sending the Invite.
    pub response_timeout: Duration,
    /// How long a handshake may take, from the session's start until the
    /// Invite is in (invitee) or the Proof is verified (inviter). Default
    /// 30 seconds.
    pub handshake_timeout: Duration,
    /// The inviter's extra wait after the response timeout, and its wait
    /// for the acknowledgement of a Cancel. Default 10 seconds.
    pub grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            grace: DEFAULT_GRACE,
        }
    }
}

impl Config {
    /// Checks that no timeout is zero. (A zero grace would make the
    /// acknowledgement of a Cancel due at the instant it is sent.)
    pub fn validate(&self) -> Result<(), Error> {
        if self.response_timeout.as_ticks() == 0
            || self.handshake_timeout.as_ticks() == 0
            || self.grace.as_ticks() == 0
        {
            return Err(ArgumentError::OutOfRange.into());
        }
        Ok(())
    }
}

/// `now + d`, saturating at the end of time instead of panicking.
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or(Instant::MAX)
}

/// Whether an optional deadline has come at `now`.
pub(crate) fn due(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_some_and(|d| now >= d)
}
