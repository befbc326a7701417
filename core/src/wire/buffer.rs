//! Fixed-capacity byte buffers for the stream: frames in, frames out.
//!
//! Neither ever grows: a frame that does not fit is refused when its length
//! prefix arrives, before any of its body is stored.

use core::ops::Range;

use super::frame::{FrameKind, HEADER_LEN, LENGTH_LEN};
use crate::error::ProtocolError;

/// Why a frame could not be taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The length prefix is zero, so there is no kind byte.
    Empty,
    /// The frame is longer than what may come now or than the buffer.
    TooLarge,
}

impl From<FrameError> for ProtocolError {
    fn from(_: FrameError) -> Self {
        ProtocolError::FrameLength
    }
}

/// Accumulates one frame at a time from stream input, in any chunking.
///
/// Bytes before `base` hold a decrypted message kept for the application to
/// read (the invitation, or the answer).
#[derive(Clone)]
pub(crate) struct Inbox<const N: usize> {
    buf: [u8; N],
    base: usize,
    len: usize,
}

impl<const N: usize> Inbox<N> {
    pub(crate) const fn new() -> Self {
        Inbox {
            buf: [0; N],
            base: 0,
            len: 0,
        }
    }

    /// Forgets everything: the kept message and the frame being read.
    pub(crate) fn reset(&mut self) {
        self.base = 0;
        self.len = 0;
    }

    /// The full length of the current frame, once its prefix is in.
    fn frame_len(&self) -> Option<usize> {
        let prefix = self.buf.get(self.base..self.base + LENGTH_LEN)?;
        if self.len < LENGTH_LEN {
            return None;
        }
        let mut len = [0u8; 2];
        len.copy_from_slice(prefix);
        Some(LENGTH_LEN + usize::from(u16::from_be_bytes(len)))
    }

    /// Takes bytes of the current frame from `input`, never past its end,
    /// and returns how many it took. `max_frame` bounds the whole frame.
    pub(crate) fn read(&mut self, input: &[u8], max_frame: usize) -> Result<usize, FrameError> {
        let mut taken = 0;
        loop {
            let want = match self.frame_len() {
                None => LENGTH_LEN,
                Some(total) => {
                    if total <= LENGTH_LEN {
                        return Err(FrameError::Empty);
                    }
                    if total > max_frame || total > N.saturating_sub(self.base) {
                        return Err(FrameError::TooLarge);
                    }
                    total
                }
            };
            if self.len >= want {
                return Ok(taken);
            }
            let rest = input.get(taken..).unwrap_or(&[]);
            if rest.is_empty() {
                return Ok(taken);
            }
            let n = (want - self.len).min(rest.len());
            let start = self.base + self.len;
            let (Some(dst), Some(src)) = (self.buf.get_mut(start..start + n), rest.get(..n)) else {
                // `want` was bounded by the space after `base` above.
                return Err(FrameError::TooLarge);
            };
            dst.copy_from_slice(src);
            self.len += n;
            taken += n;
        }
    }

    /// The length field of the frame being read (kind byte and body), once
    /// its prefix is in.
    pub(crate) fn announced_len(&self) -> Option<usize> {
        self.frame_len().map(|total| total - LENGTH_LEN)
    }

    /// The kind byte and the body of the current frame, once it is complete.
    /// An unknown kind byte is a protocol error.
    pub(crate) fn frame(&mut self) -> Option<Result<(FrameKind, &mut [u8]), ProtocolError>> {
        let total = self.frame_len()?;
        if self.len < total || total <= LENGTH_LEN {
            return None;
        }
        let frame = self.buf.get_mut(self.base..self.base + total)?;
        let (header, body) = frame.split_at_mut(HEADER_LEN);
        let kind = header.get(LENGTH_LEN).copied()?;
        Some(FrameKind::from_byte(kind).map(|k| (k, body)))
    }

    /// Drops the current frame.
    pub(crate) fn clear_frame(&mut self) {
        self.len = 0;
    }

    /// Keeps `len` bytes at the start of the current frame's body (a
    /// message decrypted in place) and starts the next frame after the
    /// current one. Returns where the kept bytes are.
    pub(crate) fn retain_body(&mut self, len: usize) -> Range<usize> {
        let start = self.base + HEADER_LEN;
        let total = self.frame_len().unwrap_or(HEADER_LEN);
        self.base = (self.base + total).min(N);
        self.len = 0;
        start..(start + len).min(self.base)
    }

    /// Bytes kept by [`Inbox::retain_body`].
    pub(crate) fn retained(&self, range: Range<usize>) -> &[u8] {
        self.buf.get(range).unwrap_or(&[])
    }
}

/// Frames waiting to be transmitted, drained in any chunking.
#[derive(Clone)]
pub(crate) struct Outbox<const N: usize> {
    pub(crate) buf: [u8; N],
    start: usize,
    end: usize,
    /// Bytes transmitted since the last [`reset`](Self::reset), across
    /// rewinds.
    transmitted: usize,
}

impl<const N: usize> Outbox<N> {
    pub(crate) const fn new() -> Self {
        Outbox {
            buf: [0; N],
            start: 0,
            end: 0,
            transmitted: 0,
        }
    }

    /// Bytes still to transmit.
    pub(crate) fn pending(&self) -> usize {
        self.end - self.start
    }

    /// Copies as many pending bytes as fit into `out`.
    pub(crate) fn transmit(&mut self, out: &mut [u8]) -> usize {
        let n = self.pending().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), self.buf.get(self.start..self.start + n))
        {
            dst.copy_from_slice(src);
            self.start += n;
            self.transmitted = self.transmitted.saturating_add(n);
            n
        } else {
            0
        }
    }

    /// How many bytes have been transmitted since the last
    /// [`reset`](Self::reset), across rewinds.
    pub(crate) fn transmitted(&self) -> usize {
        self.transmitted
    }

    /// Empties the outbox for a new session: nothing pending, nothing
    /// transmitted.
    pub(crate) fn reset(&mut self) {
        self.clear();
        self.transmitted = 0;
    }

    /// Forgets every pending byte (what was transmitted stays counted).
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Space for the next frame, after what is pending (from the start when
    /// nothing is).
    pub(crate) fn space(&mut self) -> &mut [u8] {
        if self.start == self.end {
            self.clear();
        }
        self.buf.get_mut(self.end..).unwrap_or(&mut [])
    }

    /// Marks `n` bytes written into [`Outbox::space`] as pending.
    pub(crate) fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(N);
    }

    /// Makes the pending bytes end at `end`, for a frame laid out in place
    /// right after them (the Invite).
    pub(crate) fn extend_to(&mut self, end: usize) {
        self.end = end.clamp(self.end, N);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_arrives_one_byte_at_a_time() {
        let frame = [0u8, 3, 0x04, 9, 9];
        let mut inbox = Inbox::<16>::new();
        for b in frame {
            assert_eq!(inbox.read(&[b], 16), Ok(1));
        }
        let (kind, body) = inbox.frame().unwrap().unwrap();
        assert_eq!(kind, FrameKind::Sealed);
        assert_eq!(body, &[9, 9]);
    }

    #[test]
    fn reading_stops_at_the_end_of_a_frame() {
        let bytes = [0u8, 1, 0x01, 0, 1, 0x02];
        let mut inbox = Inbox::<16>::new();
        assert_eq!(inbox.read(&bytes, 16), Ok(3));
        assert!(inbox.frame().is_some());
    }

    #[test]
    fn an_oversized_length_is_refused_before_its_body() {
        let mut inbox = Inbox::<16>::new();
        assert_eq!(inbox.read(&[0, 200], 16), Err(FrameError::TooLarge));
        let mut inbox = Inbox::<16>::new();
        assert_eq!(inbox.read(&[0, 0], 16), Err(FrameError::Empty));
    }

    #[test]
    fn the_outbox_drains_in_pieces() {
        let mut out = Outbox::<8>::new();
        out.space()[..5].copy_from_slice(&[1, 2, 3, 4, 5]);
        out.commit(5);
        let mut a = [0u8; 2];
        assert_eq!(out.transmit(&mut a), 2);
        assert_eq!(a, [1, 2]);
        let mut b = [0u8; 8];
        assert_eq!(out.transmit(&mut b), 3);
        assert_eq!(&b[..3], &[3, 4, 5]);
        assert_eq!(out.pending(), 0);
    }

    #[test]
    fn the_outbox_counts_what_it_transmitted_across_rewinds() {
        let mut out = Outbox::<8>::new();
        out.space()[..5].copy_from_slice(&[1, 2, 3, 4, 5]);
        out.commit(5);
        let mut b = [0u8; 8];
        assert_eq!(out.transmit(&mut b), 5);
        // Empty: the next write starts over at the beginning.
        out.space()[..3].copy_from_slice(&[6, 7, 8]);
        out.commit(3);
        assert_eq!(out.transmit(&mut b[..2]), 2);
        assert_eq!(out.transmitted(), 7);
        out.clear();
        assert_eq!((out.pending(), out.transmitted()), (0, 7));
        out.reset();
        assert_eq!(out.transmitted(), 0);
    }
}
