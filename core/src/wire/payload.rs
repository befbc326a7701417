//! The postcard-encoded payloads inside frames (`docs/protocol.md` §5).
//!
//! These are *representations*: decoding borrows strings and bytes from the
//! frame buffer and never copies them. Limits are checked after decoding,
//! and a payload must use every byte of its plaintext.

use core::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ProtocolError, Refusal};

use crate::limits::{chars_within, MAX_MESSAGE_CHARS};

/// A 64-byte Ed25519 signature, encoded as 64 raw bytes (a postcard tuple).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SignatureBytes(pub [u8; 64]);

impl fmt::Debug for SignatureBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignatureBytes(..)")
    }
}

impl Serialize for SignatureBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(64)?;
        for b in &self.0 {
            tuple.serialize_element(b)?;
        }
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for SignatureBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SignatureBytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 signature bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = [0u8; 64];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                Ok(SignatureBytes(out))
            }
        }
        deserializer.deserialize_tuple(64, V)
    }
}

/// A byte string, encoded as postcard's `varint(len) || bytes` in one call
/// (serde's `&[u8]` would go element by element).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Bytes<'a>(pub &'a [u8]);

impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes(len {})", self.0.len())
    }
}

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Bytes<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a [u8]>::deserialize(deserializer).map(Bytes)
    }
}

/// The Proof's payload (§5.2): the invitee's identity and its signature
/// over the handshake hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofPayload {
    /// The invitee's Ed25519 public key.
    pub key: [u8; 32],
    /// `sign(invitee_key, INVITEE_LABEL || h)`.
    pub signature: SignatureBytes,
}

/// The invitation part of an Invite (§5.3), encoded first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteHead<'a> {
    /// The application id's 16 bytes.
    pub application: [u8; 16],
    /// The message, at most 255 characters.
    #[serde(borrow)]
    pub message: &'a str,
    /// The application data.
    #[serde(borrow)]
    pub data: Bytes<'a>,
}

/// The inviter's identity proof, encoded after the invitation (§5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviterProof {
    /// The inviter's Ed25519 public key.
    pub key: [u8; 32],
    /// `sign(inviter_key, INVITER_LABEL || h)`.
    pub signature: SignatureBytes,
}

/// A whole Invite: the head then the proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite<'a> {
    /// The invitation.
    #[serde(borrow)]
    pub head: InviteHead<'a>,
    /// The inviter's identity.
    pub proof: InviterProof,
}

/// What the inviter sends after the handshake (§5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviterMessage<'a> {
    /// The invitation, with the inviter's identity proof. Tag 0.
    #[serde(borrow)]
    Invite(Invite<'a>),
    /// Withdraw the invitation. Tag 1.
    Cancel,
    /// Still here, while waiting for the answer (§8.4). Tag 2.
    Keepalive,
}

/// The postcard tag of [`InviterMessage::Invite`].
pub const INVITE_TAG: u8 = 0;
/// The postcard tag of [`InviterMessage::Cancel`].
pub const CANCEL_TAG: u8 = 1;
/// The postcard tag of [`InviterMessage::Keepalive`].
pub const INVITER_KEEPALIVE_TAG: u8 = 2;
/// The postcard tag of [`AnswerMessage::Keepalive`].
pub const INVITEE_KEEPALIVE_TAG: u8 = 7;

/// What the invitee sends after the handshake (§5.4): its answer, or a
/// keepalive while the prompt is up. The tags
/// of the first four are the reference's response actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnswerMessage<'a> {
    /// Tag 0: the user declined.
    Declined {
        /// The user's message.
        message: &'a str,
    },
    /// Tag 1: the user accepted.
    Accepted {
        /// The user's message.
        message: &'a str,
    },
    /// Tag 2: nobody answered in time.
    Expired,
    /// Tag 3: the invitee's side failed.
    Error {
        /// The extended error code.
        code: u32,
        /// A message.
        message: &'a str,
    },
    /// Tag 4: policy refused the invitation.
    Refused(SealedRefusal),
    /// Tag 5: the Cancel arrived while the prompt was up; it is withdrawn.
    Cancelled,
    /// Tag 6: the Invite is larger than this invitee takes
    /// ([`Refusal::TooLarge`](crate::Refusal::TooLarge)). It names the Invite frame's length field as
    /// the invitee saw it, so that the inviter can tell a real refusal from
    /// a length altered in transit.
    TooLarge {
        /// The Invite frame's length field (kind byte and body), as received.
        invite_len: u32,
    },
    /// Tag 7: not an answer: the prompt is still up (§8.4).
    Keepalive,
}

impl<'a> AnswerMessage<'a> {
    /// The message it carries, or `""`.
    pub fn message(&self) -> &'a str {
        match self {
            AnswerMessage::Declined { message }
            | AnswerMessage::Accepted { message }
            | AnswerMessage::Error { message, .. } => message,
            _ => "",
        }
    }
}

/// A reason the invitee gives sealed, in the Answer `Refused` (§5.4): its
/// tags are the first five `Refusal` tags. `TooLarge` (5) travels as its
/// own answer and `UnsupportedVersion` (6) only in clear, so neither can be
/// built here, and a sealed `Refused` naming them does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SealedRefusal {
    /// Tag 0.
    NotTrusted,
    /// Tag 1.
    Blocked,
    /// Tag 2.
    ApplicationNotRegistered,
    /// Tag 3.
    InvitationsOff,
    /// Tag 4.
    Busy,
}

impl SealedRefusal {
    /// The sealed form of a policy refusal; `None` for `TooLarge`, which
    /// has an answer of its own.
    pub fn from_refusal(reason: Refusal) -> Option<Self> {
        match reason {
            Refusal::NotTrusted => Some(SealedRefusal::NotTrusted),
            Refusal::Blocked => Some(SealedRefusal::Blocked),
            Refusal::ApplicationNotRegistered => Some(SealedRefusal::ApplicationNotRegistered),
            Refusal::InvitationsOff => Some(SealedRefusal::InvitationsOff),
            Refusal::Busy => Some(SealedRefusal::Busy),
            Refusal::TooLarge => None,
        }
    }

    /// The reason, as both sides report it.
    pub fn refusal(self) -> Refusal {
        match self {
            SealedRefusal::NotTrusted => Refusal::NotTrusted,
            SealedRefusal::Blocked => Refusal::Blocked,
            SealedRefusal::ApplicationNotRegistered => Refusal::ApplicationNotRegistered,
            SealedRefusal::InvitationsOff => Refusal::InvitationsOff,
            SealedRefusal::Busy => Refusal::Busy,
        }
    }
}

/// Decodes a whole payload: every byte must be used, and the encoding must
/// be the canonical (shortest) one.
///
/// postcard accepts over-long varints, and how long depends on the
/// platform's `usize`; requiring the decoded value to re-encode to exactly
/// as many bytes makes every encoding unique and the same on every
/// platform. The measure is computed without a buffer.
pub fn decode<'a, T: Deserialize<'a> + Serialize>(bytes: &'a [u8]) -> Result<T, ProtocolError> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => {
            match postcard::serialize_with_flavor(&value, postcard::ser_flavors::Size::default()) {
                Ok(len) if len == bytes.len() => Ok(value),
                _ => Err(ProtocolError::Malformed),
            }
        }
        _ => Err(ProtocolError::Malformed),
    }
}

/// Encodes into `out`, returning the number of bytes.
pub fn encode<T: Serialize>(value: &T, out: &mut [u8]) -> Option<usize> {
    postcard::to_slice(value, out).ok().map(|s| s.len())
}

/// Checks a message from the wire: at most 255 characters.
pub fn check_wire_message(message: &str) -> Result<(), ProtocolError> {
    if chars_within(message, MAX_MESSAGE_CHARS) {
        Ok(())
    } else {
        Err(ProtocolError::FieldTooLong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invite_in_two_halves_is_the_whole_invite() {
        let head = InviteHead {
            application: [7; 16],
            message: "hi",
            data: Bytes(&[1, 2, 3]),
        };
        let proof = InviterProof {
            key: [5; 32],
            signature: SignatureBytes([9; 64]),
        };
        let mut whole = [0u8; 256];
        let n = encode(&InviterMessage::Invite(Invite { head, proof }), &mut whole).unwrap();
        let mut halves = [0u8; 256];
        halves[0] = INVITE_TAG;
        let a = encode(&head, &mut halves[1..]).unwrap();
        let b = encode(&proof, &mut halves[1 + a..]).unwrap();
        assert_eq!(&whole[..n], &halves[..1 + a + b]);
        let back: InviterMessage<'_> = decode(&whole[..n]).unwrap();
        assert_eq!(back, InviterMessage::Invite(Invite { head, proof }));
    }

    #[test]
    fn trailing_bytes_are_malformed() {
        let mut buf = [0u8; 8];
        let n = encode(&InviterMessage::Cancel, &mut buf).unwrap();
        assert_eq!(&buf[..n], &[CANCEL_TAG]);
        assert_eq!(
            decode::<InviterMessage<'_>>(&[CANCEL_TAG, 0]),
            Err(ProtocolError::Malformed)
        );
    }

    #[test]
    fn an_over_long_varint_is_malformed() {
        // Cancel is tag 1; 0x81 0x00 is 1 in two bytes.
        assert_eq!(
            decode::<InviterMessage<'_>>(&[0x81, 0x00]),
            Err(ProtocolError::Malformed)
        );
        // An answer message's length 0 written as 0x80 0x00.
        assert_eq!(
            decode::<AnswerMessage<'_>>(&[0x00, 0x80, 0x00]),
            Err(ProtocolError::Malformed)
        );
        assert_eq!(
            decode::<AnswerMessage<'_>>(&[0x00, 0x00]),
            Ok(AnswerMessage::Declined { message: "" })
        );
    }

    #[test]
    fn answers_use_the_reference_action_numbers() {
        let mut buf = [0u8; 8];
        for (answer, tag) in [
            (AnswerMessage::Declined { message: "" }, 0u8),
            (AnswerMessage::Accepted { message: "" }, 1),
            (AnswerMessage::Expired, 2),
            (
                AnswerMessage::Error {
                    code: 0,
                    message: "",
                },
                3,
            ),
        ] {
            encode(&answer, &mut buf).unwrap();
            assert_eq!(buf[0], tag);
        }
    }
}
