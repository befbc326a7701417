//! Frames on the wire (`docs/protocol.md`): a big-endian `u16` length
//! (of the kind byte and the body), the kind byte, the body.

use beckon_core::{Config, EphemeralSecret, Invitation, Inviter, Target};
use embassy_time::Instant;

use crate::cast::{alice, CHESS};
use crate::drain::transmitted;

/// The kind byte of a Hello (written out from `docs/protocol.md`, not
/// taken from the core).
pub const HELLO: u8 = 1;
/// The kind byte of a Proof.
pub const PROOF: u8 = 2;
/// The kind byte of a clear Refusal.
pub const REFUSAL: u8 = 3;
/// The kind byte of a Sealed frame (Invite, Cancel, keepalive, Answer).
pub const SEALED: u8 = 4;

/// A frame built by hand: the length of `kind` and `body`, `kind`, `body`.
///
/// # Panics
///
/// If the body is longer than a frame can say.
pub fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len() + 1).expect("a frame's length fits in a u16");
    let mut out = len.to_be_bytes().to_vec();
    out.push(kind);
    out.extend_from_slice(body);
    out
}

/// Splits a byte stream into frames by their length prefixes, as slices
/// of it. A trailing incomplete frame (or a lone byte) is the last piece.
pub fn frames(stream: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let len = match rest {
            [hi, lo, ..] => 2 + usize::from(u16::from_be_bytes([*hi, *lo])),
            _ => rest.len(),
        };
        let (frame, tail) = rest.split_at(len.min(rest.len()));
        out.push(frame);
        rest = tail;
    }
    out
}

/// Splits a byte stream that must be whole frames, each with its kind
/// byte, into them.
///
/// # Panics
///
/// If a frame has no kind byte or the stream ends inside a frame.
pub fn whole_frames(stream: &[u8]) -> Vec<&[u8]> {
    let all = frames(stream);
    for f in &all {
        assert!(f.len() >= 2, "a truncated length: {f:?}");
        let len = usize::from(u16::from_be_bytes([f[0], f[1]]));
        assert!(len >= 1, "a frame without a kind byte");
        assert_eq!(f.len(), 2 + len, "the stream ends inside a frame");
    }
    all
}

/// A valid Hello: the first frame of Alice's real inviter, to any
/// endpoint, with the ephemeral secret `ephemeral`. For a peer that says
/// Hello and then nothing.
pub fn hello(ephemeral: [u8; 32]) -> Vec<u8> {
    let invitation = Invitation::new(CHESS, "", b"").unwrap();
    let mut inviter: Box<Inviter> = Box::new(
        Inviter::new(
            Config::default(),
            &alice(),
            Target::AnyEndpoint,
            &invitation,
            EphemeralSecret::from_bytes(ephemeral),
            Instant::from_ticks(0),
        )
        .unwrap(),
    );
    transmitted(inviter.as_mut(), 256)
}

/// The kind byte of a frame (0 when it has none).
pub fn kind_of(frame: &[u8]) -> u8 {
    frame.get(2).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_core::internal::frame::FrameKind;

    #[test]
    fn the_kinds_are_the_cores() {
        assert_eq!(HELLO, FrameKind::Hello as u8);
        assert_eq!(PROOF, FrameKind::Proof as u8);
        assert_eq!(REFUSAL, FrameKind::Refusal as u8);
        assert_eq!(SEALED, FrameKind::Sealed as u8);
    }

    #[test]
    fn a_stream_splits_at_its_length_prefixes() {
        let stream = [frame(HELLO, &[1; 33]), frame(SEALED, &[])].concat();
        assert_eq!(&stream[..3], &[0, 34, HELLO]);
        let whole = whole_frames(&stream);
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0].len(), 36);
        assert_eq!(whole[1], [0, 1, SEALED]);
        assert_eq!(
            whole.iter().map(|f| kind_of(f)).collect::<Vec<_>>(),
            [HELLO, SEALED]
        );
        assert_eq!(frames(&stream), whole);
        // An incomplete frame, then a lone byte, come last as they are.
        assert_eq!(frames(&stream[..10]), [&stream[..10]]);
        let lone = [&stream[..], &[0]].concat();
        assert_eq!(frames(&lone).last().unwrap(), &[0]);
        assert_eq!(kind_of(&[0]), 0);
    }

    #[test]
    fn a_hello_is_one_whole_frame_with_the_version_and_a_key() {
        let h = hello([7; 32]);
        assert_eq!(whole_frames(&h), [&h[..]]);
        assert_eq!(&h[..4], &[0, 34, HELLO, 1]);
        assert_eq!(hello([7; 32]), h);
        assert_ne!(hello([8; 32]), h);
    }

    #[test]
    #[should_panic(expected = "the stream ends inside a frame")]
    fn whole_frames_refuses_a_stream_that_ends_inside_a_frame() {
        whole_frames(&frame(PROOF, &[2; 40])[..20]);
    }

    #[test]
    #[should_panic(expected = "a frame without a kind byte")]
    fn whole_frames_refuses_a_frame_without_a_kind() {
        whole_frames(&[0, 0, 0]);
    }
}
