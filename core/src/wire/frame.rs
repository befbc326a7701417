//! Framing: every message on the stream is `length: u16 BE`, `kind: u8`,
//! `body`, where `length` counts the kind byte and the body.

use crate::error::ProtocolError;
use crate::limits::{MAX_DATA_LEN, MAX_MESSAGE_BYTES};

/// The length prefix.
pub const LENGTH_LEN: usize = 2;
/// The length prefix and the kind byte.
pub const HEADER_LEN: usize = LENGTH_LEN + 1;
/// The ChaCha20-Poly1305 tag.
pub const TAG_LEN: usize = 16;
/// An X25519 public key.
pub const DH_LEN: usize = 32;

/// What a frame carries. The values are the kind byte on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// Inviter to invitee, in clear: the version and the Noise `-> e`.
    Hello = 0x01,
    /// Invitee to inviter: the Noise `<- e, ee` with the invitee's encrypted
    /// identity proof.
    Proof = 0x02,
    /// Invitee to inviter, in clear, instead of a Proof: an unauthenticated
    /// refusal.
    Refusal = 0x03,
    /// Either way, after the handshake: a Noise transport message.
    Sealed = 0x04,
}

impl FrameKind {
    /// The kind for a kind byte.
    pub fn from_byte(b: u8) -> Result<Self, ProtocolError> {
        match b {
            0x01 => Ok(FrameKind::Hello),
            0x02 => Ok(FrameKind::Proof),
            0x03 => Ok(FrameKind::Refusal),
            0x04 => Ok(FrameKind::Sealed),
            _ => Err(ProtocolError::UnexpectedFrame),
        }
    }
}

/// The Hello body: the version byte and the inviter's ephemeral key.
pub const HELLO_BODY_LEN: usize = 1 + DH_LEN;
/// A whole Hello frame.
pub const HELLO_FRAME_LEN: usize = HEADER_LEN + HELLO_BODY_LEN;
/// The most of a Hello an invitee reads: a Hello of a later version may be
/// longer than this version's, and the invitee must still read its version
/// byte to answer `UnsupportedVersion`.
pub const HELLO_FRAME_MAX: usize = 256;
/// The Proof's plaintext payload: the invitee's key and signature.
pub const PROOF_PAYLOAD_LEN: usize = 32 + 64;
/// The Proof body: the invitee's ephemeral key and the encrypted payload.
pub const PROOF_BODY_LEN: usize = DH_LEN + PROOF_PAYLOAD_LEN + TAG_LEN;
/// A whole Proof frame.
pub const PROOF_FRAME_LEN: usize = HEADER_LEN + PROOF_BODY_LEN;
/// A clear Refusal frame: the version byte and the refusal's tag.
pub const REFUSAL_BODY_LEN: usize = 2;
/// A whole clear Refusal frame.
pub const REFUSAL_FRAME_LEN: usize = HEADER_LEN + REFUSAL_BODY_LEN;

/// The number of bytes of postcard's varint encoding of `n`.
pub const fn varint_len(n: usize) -> usize {
    let mut len = 1;
    let mut v = n >> 7;
    while v != 0 {
        len += 1;
        v >>= 7;
    }
    len
}

/// The largest Invite plaintext with `max_data` bytes of data: the message
/// tag, the application id, the message, the data, the inviter's key and
/// signature.
pub const fn invite_plaintext_len(max_data: usize) -> usize {
    1 + 16
        + varint_len(MAX_MESSAGE_BYTES)
        + MAX_MESSAGE_BYTES
        + varint_len(max_data)
        + max_data
        + 32
        + 64
}

/// The largest Invite frame with `max_data` bytes of data.
pub const fn invite_frame_len(max_data: usize) -> usize {
    HEADER_LEN + invite_plaintext_len(max_data) + TAG_LEN
}

/// The largest Answer plaintext: the action tag, an error code and a
/// message (larger than `TooLarge`'s tag and u32).
pub const ANSWER_PLAINTEXT_MAX: usize =
    1 + varint_len(u32::MAX as usize) + varint_len(MAX_MESSAGE_BYTES) + MAX_MESSAGE_BYTES;
/// The largest Answer frame.
pub const ANSWER_FRAME_MAX: usize = HEADER_LEN + ANSWER_PLAINTEXT_MAX + TAG_LEN;
/// A Cancel frame: the tag byte, encrypted.
pub const CANCEL_FRAME_LEN: usize = HEADER_LEN + 1 + TAG_LEN;
/// A keepalive frame (§8.4), either way: the tag byte, encrypted.
pub const KEEPALIVE_FRAME_LEN: usize = HEADER_LEN + 1 + TAG_LEN;
/// Room kept after the Invite for control frames (a Cancel).
pub const CONTROL_ROOM: usize = 32;

/// The largest frame the inviter must be able to receive, and the invitee
/// to send: a Proof, a clear Refusal or an Answer.
pub const SMALL_FRAME_MAX: usize = if ANSWER_FRAME_MAX > PROOF_FRAME_LEN {
    ANSWER_FRAME_MAX
} else {
    PROOF_FRAME_LEN
};

/// The buffer an [`Inviter`](crate::Inviter) or [`Invitee`](crate::Invitee)
/// needs for invitations of up to `max_data` bytes of application data: the
/// `BUF` const generic. `max_data` is capped at 16 KiB.
///
/// ```
/// use beckon_core::{wire::buffer_size, Invitee};
/// type SmallInvitee = Invitee<{ buffer_size(512) }>;
/// ```
pub const fn buffer_size(max_data: usize) -> usize {
    let d = if max_data > MAX_DATA_LEN {
        MAX_DATA_LEN
    } else {
        max_data
    };
    HELLO_FRAME_LEN + invite_frame_len(d) + CONTROL_ROOM
}

// The invitee reads a Hello of up to HELLO_FRAME_MAX bytes into the same
// buffer, so even the smallest buffer must hold one.
const _: () = assert!(buffer_size(0) >= HELLO_FRAME_MAX);

/// The application-data limit of a `BUF`-sized buffer: the largest `d` with
/// `buffer_size(d) <= buf`, capped at 16 KiB; zero if `buf` is too small
/// for any invitation.
pub const fn max_data_for(buf: usize) -> usize {
    if buf < buffer_size(0) {
        return 0;
    }
    // buffer_size(d) = base + d + varint_len(d); start from a lower bound
    // and step up at most a few times.
    let base = buffer_size(0) - 1;
    let mut d = buf - base;
    d = d.saturating_sub(3);
    while d < MAX_DATA_LEN && buffer_size(d + 1) <= buf {
        d += 1;
    }
    if d > MAX_DATA_LEN {
        MAX_DATA_LEN
    } else {
        d
    }
}

/// Writes a frame header for `body_len` body bytes into `out[..3]`.
pub(crate) fn write_header(out: &mut [u8], kind: FrameKind, body_len: usize) -> Option<()> {
    let len = u16::try_from(body_len.checked_add(1)?).ok()?;
    let header = out.get_mut(..HEADER_LEN)?;
    let [len_hi, len_lo] = len.to_be_bytes();
    header.copy_from_slice(&[len_hi, len_lo, kind as u8]);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_have_postcards_lengths() {
        let mut buf = [0u8; 10];
        for n in [
            0usize,
            1,
            127,
            128,
            1020,
            16383,
            16384,
            65535,
            u32::MAX as usize,
        ] {
            let used = postcard::to_slice(&(n as u32), &mut buf).unwrap().len();
            assert_eq!(used, varint_len(n), "{n}");
        }
    }

    #[test]
    fn max_data_for_inverts_buffer_size() {
        for d in [0usize, 1, 100, 127, 128, 512, 16383, 16384] {
            assert_eq!(max_data_for(buffer_size(d)), d, "{d}");
            if d > 0 {
                assert_eq!(max_data_for(buffer_size(d) - 1), d - 1, "{d}");
            }
        }
        assert_eq!(max_data_for(10), 0);
        assert_eq!(max_data_for(usize::MAX / 2), MAX_DATA_LEN);
    }

    #[test]
    fn the_largest_frames_fit_the_length_field() {
        assert!(invite_frame_len(MAX_DATA_LEN) - LENGTH_LEN <= u16::MAX as usize);
    }
}
