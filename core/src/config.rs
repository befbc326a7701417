//! Timeouts shared by both roles.

use embassy_time::Duration;

use crate::error::{ArgumentError, Error};
use crate::limits::{
    DEFAULT_GRACE, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_KEEPALIVE_INTERVAL,
    DEFAULT_RESPONSE_TIMEOUT,
};

/// The timers of a session (`docs/protocol.md` §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
    /// While the invitation is pending (the inviter waiting for the answer,
    /// the invitee prompting), send a sealed keepalive this often. Default
    /// 15 seconds.
    pub keepalive_interval: Duration,
    /// While the invitation is pending, give up with
    /// [`SessionError::PeerSilent`](crate::SessionError::PeerSilent) when nothing at all has come from the peer for
    /// this long. Default 45 seconds (three of the peer's keepalive
    /// intervals: keep it well above the peer's interval). It must be
    /// longer than `keepalive_interval`.
    pub idle_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

impl Config {
    /// The defaults: 5 minutes to answer, 30 seconds of handshake, 10
    /// seconds of grace, keepalives every 15 seconds, 45 seconds of silence
    /// tolerated.
    pub const DEFAULT: Config = Config {
        response_timeout: DEFAULT_RESPONSE_TIMEOUT,
        handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        grace: DEFAULT_GRACE,
        keepalive_interval: DEFAULT_KEEPALIVE_INTERVAL,
        idle_timeout: DEFAULT_IDLE_TIMEOUT,
    };

    /// Checks that no timeout is zero (a zero grace would make the
    /// acknowledgement of a Cancel due at the instant it is sent) and that
    /// the idle timeout is longer than the keepalive interval.
    pub fn validate(&self) -> Result<(), Error> {
        if self.response_timeout.as_ticks() == 0
            || self.handshake_timeout.as_ticks() == 0
            || self.grace.as_ticks() == 0
            || self.keepalive_interval.as_ticks() == 0
            || self.idle_timeout <= self.keepalive_interval
        {
            return Err(ArgumentError::OutOfRange.into());
        }
        Ok(())
    }
}
