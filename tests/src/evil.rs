//! An evil peer on the test kit's adversary (`snow`, an independent Noise
//! implementation): it completes the real handshake (so its frames are
//! well formed and decrypt), then lies inside it: it claims an identity it
//! cannot prove, confuses the roles, sends a weak key, or sends encrypted
//! messages the protocol forbids.

use beckon_core::internal::frame::{DH_LEN, HEADER_LEN};
use beckon_core::internal::handshake::{INVITEE_LABEL, INVITER_LABEL};
use beckon_core::internal::payload;
use beckon_core::{Identity, PublicKey};
use beckon_testkit::adversary::{
    invite_payload, proof_payload, sign, SnowInvitee, SnowInviter, WEAK_KEY,
};

use crate::rng::Rng;

/// How an evil responder lies in its Proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProofLie {
    /// Claims the contact's key, with a random signature.
    ContactKeyRandomSignature,
    /// Claims the contact's key, signed with the attacker's own key.
    ContactKeyOwnSignature,
    /// Its own key, but signed as an inviter (role confusion).
    OwnKeyInviterLabel,
    /// A weak (small-order) key.
    WeakKey,
    /// A payload one byte short.
    ShortPayload,
}

/// How an evil initiator lies in its Invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InviteLie {
    /// Claims a contact's key, with a random signature.
    VictimKeyRandomSignature,
    /// Claims a contact's key, signed with the attacker's own key.
    VictimKeyOwnSignature,
    /// Its own key, signed as an invitee (role confusion).
    OwnKeyInviteeLabel,
    /// A weak key.
    WeakKey,
    /// A Cancel where the Invite should be.
    CancelFirst,
    /// Random bytes, properly encrypted.
    GarbagePlaintext,
    /// Its own key, validly signed, with a 256-character message.
    OverlongMessage,
}

pub(crate) const PROOF_LIES: [ProofLie; 5] = [
    ProofLie::ContactKeyRandomSignature,
    ProofLie::ContactKeyOwnSignature,
    ProofLie::OwnKeyInviterLabel,
    ProofLie::WeakKey,
    ProofLie::ShortPayload,
];

pub(crate) const INVITE_LIES: [InviteLie; 7] = [
    InviteLie::VictimKeyRandomSignature,
    InviteLie::VictimKeyOwnSignature,
    InviteLie::OwnKeyInviteeLabel,
    InviteLie::WeakKey,
    InviteLie::CancelFirst,
    InviteLie::GarbagePlaintext,
    InviteLie::OverlongMessage,
];

/// The evil responder: reads a Hello, answers with a lying Proof.
pub(crate) fn lying_proof(
    hello: &[u8],
    me: &Identity,
    claimed: PublicKey,
    lie: ProofLie,
    rng: &mut Rng,
) -> Option<Vec<u8>> {
    // A Hello without a version and a key is not answered (and draws
    // nothing).
    if hello.len() < HEADER_LEN + 1 + DH_LEN {
        return None;
    }
    let noise = SnowInvitee::new(hello, &rng.bytes())?;
    let h = noise.proof_hash();
    let (key, signature) = match lie {
        ProofLie::ContactKeyRandomSignature => (claimed.to_bytes(), rng.bytes::<64>()),
        ProofLie::ContactKeyOwnSignature => (claimed.to_bytes(), sign(me, INVITEE_LABEL, &h)),
        ProofLie::OwnKeyInviterLabel | ProofLie::ShortPayload => {
            (me.public_key().to_bytes(), sign(me, INVITER_LABEL, &h))
        }
        ProofLie::WeakKey => (WEAK_KEY, rng.bytes::<64>()),
    };
    let mut text = proof_payload(key, signature);
    if lie == ProofLie::ShortPayload {
        text.pop();
    }
    Some(noise.proof(&text).0)
}

/// The evil initiator's state between its Hello and the Proof (boxed: a
/// snow handshake is large, and this waits in a script beside small ones).
pub(crate) struct EvilInitiator {
    noise: Box<SnowInviter>,
}

impl EvilInitiator {
    /// Starts a handshake; returns the state and the Hello frame.
    pub(crate) fn start(rng: &mut Rng) -> (Self, Vec<u8>) {
        let noise = Box::new(SnowInviter::new(Some(&rng.bytes())));
        let hello = noise.hello().to_vec();
        (EvilInitiator { noise }, hello)
    }

    /// Reads the (genuine) Proof and answers with a lying Invite claiming
    /// `victim`'s identity (or its own, depending on the lie).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn lying_invite(
        self,
        proof: &[u8],
        me: &Identity,
        victim: PublicKey,
        lie: InviteLie,
        application: [u8; 16],
        message: &str,
        data: &[u8],
        rng: &mut Rng,
    ) -> Option<Vec<u8>> {
        let (_, channel) = self.noise.read_proof(proof)?;
        let h = channel.hash();
        let long = "x".repeat(256);
        let (key, signature, message) = match lie {
            InviteLie::VictimKeyRandomSignature => (victim.to_bytes(), rng.bytes::<64>(), message),
            InviteLie::VictimKeyOwnSignature => {
                (victim.to_bytes(), sign(me, INVITER_LABEL, &h), message)
            }
            InviteLie::OwnKeyInviteeLabel => (
                me.public_key().to_bytes(),
                sign(me, INVITEE_LABEL, &h),
                message,
            ),
            InviteLie::WeakKey => (WEAK_KEY, rng.bytes::<64>(), message),
            InviteLie::OverlongMessage => (
                me.public_key().to_bytes(),
                sign(me, INVITER_LABEL, &h),
                long.as_str(),
            ),
            InviteLie::CancelFirst | InviteLie::GarbagePlaintext => {
                (victim.to_bytes(), [0; 64], message)
            }
        };
        let text = match lie {
            InviteLie::CancelFirst => vec![payload::CANCEL_TAG],
            InviteLie::GarbagePlaintext => {
                let n = rng.range(1, 200) as usize;
                rng.vec(n)
            }
            _ => invite_payload(application, message, data, key, signature),
        };
        Some(channel.seal(0, &text))
    }
}
