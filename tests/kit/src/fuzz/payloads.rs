//! Payloads: every payload decoder, with the round-trip property.

use beckon_core::internal::payload::{
    self, AnswerMessage, Bytes, Invite, InviteHead, InviterMessage, InviterProof, ProofPayload,
    SealedRefusal, SignatureBytes,
};

/// Whether to require that whatever decodes re-encodes to the very same
/// bytes. postcard alone accepts over-long varints (a tag, a length or an
/// error code with redundant `0x80` continuation groups, as in `81 00` for
/// 1); `payload::decode` refuses them (`Malformed`) since the protocol
/// requires canonical encodings, so the strict property holds. With
/// `false`, the weaker property that holds for postcard alone is asserted
/// instead: the canonical re-encoding is strictly shorter.
pub const STRICT_CANONICAL: bool = true;

/// Decodes `bytes` as `$ty`; if it decodes: the re-encoding decodes to an
/// equal value and is a fixed point, and it is the input itself, or (an
/// over-long varint in the input) strictly shorter.
macro_rules! roundtrip {
    ($ty:ty, $bytes:expr) => {{
        let bytes: &[u8] = $bytes;
        if let Ok(value) = payload::decode::<$ty>(bytes) {
            let mut out = vec![0u8; bytes.len() + 16];
            let n = payload::encode(&value, &mut out)
                .unwrap_or_else(|| panic!("{} decoded but does not encode", stringify!($ty)));
            let again: $ty = payload::decode(&out[..n]).unwrap_or_else(|e| {
                panic!("{} re-encoded does not decode: {e:?}", stringify!($ty))
            });
            assert_eq!(
                again,
                value,
                "{} changed through a round trip",
                stringify!($ty)
            );
            let mut out2 = vec![0u8; n + 16];
            let m = payload::encode(&again, &mut out2).expect("encodes");
            assert_eq!(
                &out2[..m],
                &out[..n],
                "{} encoding is not a fixed point",
                stringify!($ty)
            );
            if STRICT_CANONICAL {
                assert_eq!(&out[..n], bytes, "{} is not canonical", stringify!($ty));
            } else if &out[..n] != bytes {
                assert!(
                    n < bytes.len(),
                    "{}: a different encoding that is not shorter",
                    stringify!($ty)
                );
                assert!(
                    has_overlong_varint_byte(bytes),
                    "{}: a different encoding without an over-long varint",
                    stringify!($ty)
                );
            }
            true
        } else {
            false
        }
    }};
}

/// Whether some byte could end an over-long varint: a `0x00` right after a
/// byte with the continuation bit set (the only non-canonical form postcard
/// accepts).
fn has_overlong_varint_byte(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w[0] & 0x80 != 0 && w[1] == 0)
}

/// Every payload decoder on `bytes`, each with the round-trip property.
/// Returns how many decoded.
pub(crate) fn decode_every_payload(bytes: &[u8]) -> usize {
    let results = [
        roundtrip!(ProofPayload, bytes),
        roundtrip!(SignatureBytes, bytes),
        roundtrip!(InviteHead<'_>, bytes),
        roundtrip!(InviterProof, bytes),
        roundtrip!(Invite<'_>, bytes),
        roundtrip!(InviterMessage<'_>, bytes),
        roundtrip!(AnswerMessage<'_>, bytes),
        roundtrip!(SealedRefusal, bytes),
        roundtrip!(Bytes<'_>, bytes),
    ];
    if let Ok(answer) = payload::decode::<AnswerMessage<'_>>(bytes) {
        let fits = answer.message().chars().count() <= 255;
        assert_eq!(payload::check_wire_message(answer.message()).is_ok(), fits);
    }
    results.iter().filter(|&&ok| ok).count()
}
