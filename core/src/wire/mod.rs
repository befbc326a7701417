//! The bytes an adapter may need without a state machine: how big a
//! machine's buffer must be for a data limit, and the one frame an adapter
//! sends itself, the clear refusal of a connection it will not serve.
//!
//! The framing and the encodings behind them are `docs/protocol.md` §4–§5;
//! they are not part of this crate's interface.

pub(crate) mod buffer;
pub(crate) mod frame;
pub(crate) mod payload;

pub use frame::{buffer_size, max_data_for, REFUSAL_FRAME_LEN};

use crate::error::Refusal;
use crate::limits::{MAX_DATA_LEN, PROTOCOL_VERSION};
use frame::{write_header, FrameKind, HEADER_LEN, REFUSAL_BODY_LEN};

/// The default `BUF` of [`Inviter`](crate::Inviter) and
/// [`Invitee`](crate::Invitee): room for 16 KiB of application data, the
/// protocol's limit.
pub const DEFAULT_BUFFER: usize = buffer_size(MAX_DATA_LEN);

/// A reason an invitee may give in clear, before the handshake, in place of
/// its Proof (`docs/protocol.md` §5.4, §9.2). Nothing in a clear refusal is
/// authenticated; the inviter reports it so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ClearRefusal {
    /// The invitee has turned invitations off.
    InvitationsOff,
    /// The invitee is at its limit of handshakes.
    Busy,
    /// The invitee does not speak the Hello's version.
    UnsupportedVersion,
}

impl ClearRefusal {
    /// The reason's tag on the wire (the `Refusal` tags of §5.4).
    pub(crate) const fn tag(self) -> u8 {
        match self {
            ClearRefusal::InvitationsOff => 3,
            ClearRefusal::Busy => 4,
            ClearRefusal::UnsupportedVersion => 6,
        }
    }

    /// The reason with this tag, if it is one sent in clear.
    pub(crate) const fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            3 => Some(ClearRefusal::InvitationsOff),
            4 => Some(ClearRefusal::Busy),
            6 => Some(ClearRefusal::UnsupportedVersion),
            _ => None,
        }
    }

    /// The policy's reason, for the two that are policy refusals.
    pub(crate) const fn refusal(self) -> Option<Refusal> {
        match self {
            ClearRefusal::InvitationsOff => Some(Refusal::InvitationsOff),
            ClearRefusal::Busy => Some(Refusal::Busy),
            ClearRefusal::UnsupportedVersion => None,
        }
    }
}

/// The clear Refusal frame for `reason` (`docs/protocol.md` §5.4): the
/// header, this build's version, the reason's tag. An adapter at its limit
/// of handshakes sends `refusal_frame(ClearRefusal::Busy)` and closes,
/// instead of running a session.
pub fn refusal_frame(reason: ClearRefusal) -> [u8; REFUSAL_FRAME_LEN] {
    let mut frame = [0u8; REFUSAL_FRAME_LEN];
    let _ = write_header(&mut frame, FrameKind::Refusal, REFUSAL_BODY_LEN);
    if let Some(body) = frame.get_mut(HEADER_LEN..) {
        body.copy_from_slice(&[PROTOCOL_VERSION, reason.tag()]);
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_reasons_round_trip_through_their_tags() {
        for r in [
            ClearRefusal::InvitationsOff,
            ClearRefusal::Busy,
            ClearRefusal::UnsupportedVersion,
        ] {
            assert_eq!(ClearRefusal::from_tag(r.tag()), Some(r));
        }
        for tag in [0, 1, 2, 5, 7, 255] {
            assert_eq!(ClearRefusal::from_tag(tag), None);
        }
    }
}
