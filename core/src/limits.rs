//! The protocol's limits, in one place.
//!
//! These are the reference's limits (`PEER_INVITATION`, `PEER_CONTACT`,
//! `PeerCollabRegisterApplication`). A firmware build can choose a smaller
//! application-data limit through the `BUF` const generic of
//! [`Inviter`](crate::Inviter) and [`Invitee`](crate::Invitee); see
//! [`buffer_size`](crate::wire::buffer_size).

use embassy_time::Duration;

/// The protocol version this build speaks, sent in the Hello and bound into
/// the Noise prologue.
pub const PROTOCOL_VERSION: u8 = 1;

/// A message (in an invitation or an answer) has at most this many
/// characters (Unicode scalar values).
pub const MAX_MESSAGE_CHARS: usize = 255;

/// The most UTF-8 bytes 255 characters can take.
pub const MAX_MESSAGE_BYTES: usize = MAX_MESSAGE_CHARS * 4;

/// Application data is at most 16 KiB.
pub const MAX_DATA_LEN: usize = 16 * 1024;

/// At most this many application registrations (per scope, in the
/// reference).
pub const MAX_REGISTRATIONS: usize = 64;

/// Names (nickname, display name, application description) have at most
/// this many characters.
pub const MAX_NAME_CHARS: usize = 255;

/// The user has this long to answer an invitation (the reference's 5
/// minutes).
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// A handshake that has not finished after this long is dropped (the
/// reference's timeout for its other operations).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// How much longer than the response timeout the inviter waits for the
/// invitee's Expired before it gives up with Timeout, and how long it waits
/// for the acknowledgement of a Cancel.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// While an invitation is pending, each side sends a sealed keepalive this
/// often (`docs/protocol.md` §8.4), so that the other can tell a silent
/// peer from a user thinking.
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// A side that hears nothing from its peer for this long while an
/// invitation is pending (not even a keepalive) gives up with
/// [`SessionError::PeerSilent`](crate::SessionError::PeerSilent): three keepalive
/// intervals.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(45);

/// Counts Unicode scalar values, returning `None` as soon as there are more
/// than `max`.
pub(crate) fn chars_within(s: &str, max: usize) -> bool {
    s.chars().nth(max).is_none()
}
