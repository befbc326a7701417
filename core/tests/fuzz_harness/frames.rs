//! Frames: a stream cut at its length prefixes.

use beckon_core::internal::frame::FrameKind;

/// Splits a stream by its length prefixes; a trailing incomplete frame is
/// the last piece.
pub(crate) fn split_frames(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 2 {
        let len = 2 + usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        if len > rest.len() {
            break;
        }
        let (frame, tail) = rest.split_at(len);
        out.push(frame);
        rest = tail;
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

pub(crate) fn kind_of(frame: &[u8]) -> Option<FrameKind> {
    frame.get(2).and_then(|&k| FrameKind::from_byte(k).ok())
}

/// Whether `frame` is whole (its length prefix matches).
pub(crate) fn is_whole(frame: &[u8]) -> bool {
    frame.len() >= 2 && frame.len() == 2 + usize::from(u16::from_be_bytes([frame[0], frame[1]]))
}
