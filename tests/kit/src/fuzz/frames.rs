//! Frames: a stream cut at its length prefixes (the test kit's
//! [`crate::frames()`], under the name the harness's users know),
//! and the two questions the watchers ask of each piece.

use beckon_core::internal::frame::FrameKind;

pub(crate) use crate::frames as split_frames;

/// The kind of `frame`, if its kind byte is one.
pub(crate) fn kind_of(frame: &[u8]) -> Option<FrameKind> {
    FrameKind::from_byte(crate::kind_of(frame)).ok()
}

/// Whether `frame` is whole (its length prefix matches).
pub(crate) fn is_whole(frame: &[u8]) -> bool {
    frame.len() >= 2 && frame.len() == 2 + usize::from(u16::from_be_bytes([frame[0], frame[1]]))
}
