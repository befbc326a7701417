//! The adversary variant: `snow` at the other end of a genuine channel. It
//! signs only as its own identity (Mallory), and plays the invitee against
//! an inviter ([`run_fake_invitee`]) or the inviter against an invitee
//! ([`run_fake_inviter`]). The channel, the signatures and the Proof and
//! Invite plaintexts are the test kit's ([`crate::adversary`]).

use crate::adversary::{invite_payload, proof_payload, sign, SnowInvitee, SnowInviter, WEAK_KEY};
use beckon_core::internal::frame::{invite_frame_len, FrameKind};
use beckon_core::internal::handshake::{INVITEE_LABEL, INVITER_LABEL};
use beckon_core::internal::payload::{self, AnswerMessage, InviterMessage};
use beckon_core::wire::max_data_for;
use beckon_core::*;

use super::fixtures::{
    ephemeral, keys, pick, ADVERSARY_EPHEMERALS, LARGE, RECORDED_INVITEE_EPHEMERALS,
    RECORDED_INVITER_EPHEMERALS, T0,
};
use super::frames::{kind_of, split_frames};
use super::inputs::{
    AnswerSpec, Clock, FakeInviteeOp, FakeInviteeScript, FakeInviterOp, FakeInviterScript,
    InviterPlain, KeySpec, ProofSpec, SigSpec, TargetSpec, Text,
};
use super::oracles::{expected_verdict, new_invitee, new_inviter};
use super::watchers::Watch;
use super::{InviteeRun, InviterRun};

/// The largest plaintext the adversary seals (a frame's length is a u16).
const MAX_PLAINTEXT: usize = 60_000;

fn key_bytes(key: KeySpec) -> [u8; 32] {
    let k = keys();
    match key {
        KeySpec::Mallory => k.mallory_pk.to_bytes(),
        KeySpec::Alice => k.alice_pk.to_bytes(),
        KeySpec::Bob => k.bob_pk.to_bytes(),
        KeySpec::Weak => WEAK_KEY,
        KeySpec::Raw(b) => b,
    }
}

/// The signature `sig` stands for, by Mallory, for `label` and `hash`.
fn signature(sig: SigSpec, label: &[u8; 24], other: &[u8; 24], hash: &[u8]) -> [u8; 64] {
    let mallory = &keys().mallory;
    match sig {
        SigSpec::Valid => sign(mallory, label, hash),
        SigSpec::OtherLabel => sign(mallory, other, hash),
        SigSpec::OtherHash => sign(mallory, label, &[0u8; 64]),
        SigSpec::Raw(b) => b,
    }
}

/// The plaintext of a sealed `Refused` answer with the wire reason
/// `tag % 7`: the five a sealed refusal may carry, and `TooLarge` (5) and
/// `UnsupportedVersion` (6), which none may (the inviter must find them
/// malformed). Written as bytes, since no `SealedRefusal` holds the last
/// two.
fn refused_plaintext(tag: u8) -> Vec<u8> {
    vec![4, tag % 7]
}

fn encode_payload<T: serde_like::Encode>(value: &T, size: usize) -> Vec<u8> {
    let mut out = vec![0u8; size];
    let n = value.encode_into(&mut out).expect("a payload that fits");
    out.truncate(n);
    out
}

/// `payload::encode` for the payload types, without naming serde.
mod serde_like {
    use super::payload;
    pub(crate) trait Encode {
        fn encode_into(&self, out: &mut [u8]) -> Option<usize>;
    }
    macro_rules! encode {
        ($($t:ty),*) => {$(
            impl Encode for $t {
                fn encode_into(&self, out: &mut [u8]) -> Option<usize> {
                    payload::encode(self, out)
                }
            }
        )*};
    }
    encode!(payload::AnswerMessage<'_>, payload::InviterMessage<'_>);
}

/// The Proof payload `spec` stands for, and whether it is a valid proof of
/// Mallory's key for `hash`.
fn proof_plaintext(spec: &ProofSpec, hash: &[u8]) -> (Vec<u8>, bool) {
    match spec {
        ProofSpec::Fields(key, sig) => {
            let p = proof_payload(
                key_bytes(*key),
                signature(*sig, INVITEE_LABEL, INVITER_LABEL, hash),
            );
            let valid = *key == KeySpec::Mallory && *sig == SigSpec::Valid;
            (p, valid)
        }
        ProofSpec::Raw(chunk) => (chunk.0[..chunk.0.len().min(1024)].to_vec(), false),
    }
}

/// The nonce to seal under: the one `chosen`, or else the next one.
fn pick_nonce(chosen: Option<u8>, next: &mut u64) -> u64 {
    chosen.map_or_else(
        || {
            *next += 1;
            *next - 1
        },
        u64::from,
    )
}

/// An answer's plaintext; `invite_len` is the Invite's length field.
fn answer_plaintext(spec: &AnswerSpec, invite_len: u32) -> Vec<u8> {
    let size = 64 + MAX_PLAINTEXT;
    let message = |t: &Text| -> String { t.0.chars().take(MAX_PLAINTEXT / 4).collect() };
    match spec {
        AnswerSpec::Declined(t) => encode_payload(
            &AnswerMessage::Declined {
                message: &message(t),
            },
            size,
        ),
        AnswerSpec::Accepted(t) => encode_payload(
            &AnswerMessage::Accepted {
                message: &message(t),
            },
            size,
        ),
        AnswerSpec::Expired => encode_payload(&AnswerMessage::Expired, size),
        AnswerSpec::Error(code, t) => encode_payload(
            &AnswerMessage::Error {
                code: *code,
                message: &message(t),
            },
            size,
        ),
        AnswerSpec::Refused(tag) => refused_plaintext(*tag),
        AnswerSpec::Cancelled => encode_payload(&AnswerMessage::Cancelled, size),
        AnswerSpec::TooLarge(len) => encode_payload(
            &AnswerMessage::TooLarge {
                invite_len: len.unwrap_or(invite_len),
            },
            size,
        ),
        AnswerSpec::Raw(chunk) => chunk.0[..chunk.0.len().min(MAX_PLAINTEXT)].to_vec(),
    }
}

/// Runs an inviter against the adversary playing the invitee; returns its
/// events.
pub fn run_fake_invitee(script: &FakeInviteeScript) -> Vec<InviterEvent> {
    run_fake_invitee_run(script).map_or_else(Vec::new, |run| run.events)
}

/// [`run_fake_invitee`], with what the inviter sent; `None` when `new`
/// refused it (as it must).
pub fn run_fake_invitee_run(script: &FakeInviteeScript) -> Option<InviterRun> {
    let (mut m, mut w) = new_inviter::<LARGE>(
        &script.config.config(),
        script.target.target(),
        &script.invitation.make()?,
        ephemeral(&RECORDED_INVITER_EPHEMERALS, script.ephemeral),
    )?;
    let mut clock = Clock::new();
    w.settle(&mut m, true);

    // The handshake: read the Hello, prove whatever the script says.
    let snow = SnowInvitee::new(
        &w.sent,
        &pick(&ADVERSARY_EPHEMERALS, script.adversary_ephemeral),
    )
    .expect("the inviter's Hello");
    let (payload, valid) = proof_plaintext(&script.proof, &snow.proof_hash());
    let (proof, channel) = snow.proof(&payload);
    w.input(&mut m, T0, &proof, &());
    w.settle(&mut m, true);
    let mallory = Some(keys().mallory_pk);
    if valid {
        // Completeness: a valid proof is taken, and checked against the
        // target.
        assert_eq!(m.responder(), mallory, "a valid proof was not taken");
        match script.target {
            TargetSpec::Mallory | TargetSpec::AnyEndpoint => {
                assert_eq!(w.side.verified, mallory, "a valid proof of the target")
            }
            _ => assert_eq!(w.finished, Some(Err(SessionError::ContactMismatch))),
        }
    } else {
        assert_eq!(m.responder(), None, "an invalid proof was taken");
        assert!(w.side.verified.is_none() && w.finished.is_some());
    }
    let invite_len = split_frames(&w.sent)
        .get(1)
        .map_or(0, |f| u32::try_from(f.len() - 2).unwrap_or(u32::MAX));

    let mut next_nonce = 0u64;
    for op in &script.ops {
        let before = w.finished;
        let mut opened: Option<(u64, Vec<u8>)> = None;
        match op {
            FakeInviteeOp::Answer(nonce, spec) => {
                let plaintext = answer_plaintext(spec, invite_len);
                let nonce = pick_nonce(*nonce, &mut next_nonce);
                w.input(&mut m, clock.now, &channel.seal(nonce, &plaintext), &());
                opened = Some((nonce, plaintext));
            }
            FakeInviteeOp::Raw(chunk) => w.input(&mut m, clock.now, &chunk.0, &()),
            FakeInviteeOp::Time(when) => w.timed(&mut m, &mut clock, *when, Watch::timeout),
            FakeInviteeOp::Cancel => w.cancel(&mut m, clock.now),
            FakeInviteeOp::Close => w.close(&mut m, clock.now),
        }
        w.settle(&mut m, true);
        // An answer: exactly what the (verified) adversary sealed under the
        // first nonce.
        if before.is_none() && m.answer_message().is_ok() {
            assert_eq!(
                w.side.verified, mallory,
                "an answer from an unverified peer"
            );
            let Some((nonce, plaintext)) = opened else {
                panic!("an answer from a frame the adversary did not seal");
            };
            assert_eq!(nonce, 0, "an answer under nonce {nonce}");
            let said: AnswerMessage<'_> =
                payload::decode(&plaintext).expect("the answer that was read decodes");
            assert_eq!(m.answer_message(), Ok(said.message()));
            let matches = match (w.finished, said) {
                (Some(Ok(Response::Accepted)), AnswerMessage::Accepted { .. })
                | (Some(Ok(Response::Declined)), AnswerMessage::Declined { .. })
                | (Some(Ok(Response::Expired)), AnswerMessage::Expired)
                | (Some(Err(SessionError::Cancelled)), AnswerMessage::Cancelled)
                | (
                    Some(Err(SessionError::Refused {
                        reason: Refusal::TooLarge,
                        authenticated: true,
                    })),
                    AnswerMessage::TooLarge { .. },
                ) => true,
                (Some(Ok(Response::Error { code })), AnswerMessage::Error { code: c, .. }) => {
                    code == c
                }
                (
                    Some(Err(SessionError::Refused {
                        reason,
                        authenticated: true,
                    })),
                    AnswerMessage::Refused(r),
                ) => reason == r.refusal(),
                _ => false,
            };
            assert!(matches, "reported {:?} for {said:?}", w.finished);
        }
    }
    w.run_out(&mut m, &mut clock);
    if matches!(w.finished, Some(Ok(_))) {
        assert_eq!(w.side.verified, mallory, "an answer without a valid proof");
    }
    Some(w.into_run())
}

/// The invitee's view of an Invite the adversary sealed.
struct SealedInvite {
    application: ApplicationId,
    message: String,
    data: Vec<u8>,
    /// A valid signature of Mallory's key over this session.
    valid: bool,
}

/// Runs an invitee against the adversary playing the inviter; returns its
/// events.
pub fn run_fake_inviter<const B: usize>(script: &FakeInviterScript) -> Vec<InviteeEvent> {
    run_fake_inviter_run::<B>(script).map_or_else(Vec::new, |run| run.events)
}

/// [`run_fake_inviter`], with what the invitee sent; `None` when `new`
/// refused it (as it must).
pub fn run_fake_inviter_run<const B: usize>(script: &FakeInviterScript) -> Option<InviteeRun> {
    let k = keys();
    let (mut m, mut w) = new_invitee::<B>(
        &script.config.config(),
        ephemeral(&RECORDED_INVITEE_EPHEMERALS, script.ephemeral),
        vec![k.mallory_pk],
    )?;
    let mut dir = script.directory.build();
    let mut clock = Clock::new();

    // The handshake: a Hello, then read Bob's Proof if he sends one.
    let snow = SnowInviter::new(Some(&pick(
        &ADVERSARY_EPHEMERALS,
        script.adversary_ephemeral,
    )));
    w.input(&mut m, T0, snow.hello(), &dir);
    w.settle(&mut m, true);
    let mut channel = None;
    let mut hash = [0u8; 64];
    if kind_of(&w.sent) == Some(FrameKind::Proof) {
        let (_, opened) = snow.read_proof(&w.sent).expect("Bob's Proof opens");
        hash = opened.hash();
        channel = Some(opened);
    }

    let mut next_nonce = 0u64;
    let mut invite: Option<SealedInvite> = None;
    let mut cancel_sent = false;
    // Bytes outside a sealed frame were fed: a frame may be left half read.
    let mut raw_fed = false;
    for op in &script.ops {
        let had_inviter = m.inviter().is_some();
        let had_prompt = w.side.prompt.is_some();
        let mut sealed: Option<SealedInvite> = None;
        // This step sealed a valid Invite right: to an invitee waiting for
        // it, its input clean, under the first nonce, within the limits.
        let mut sealed_right = false;
        match op {
            FakeInviterOp::Seal(nonce, plain) => {
                let Some(channel) = &channel else { continue };
                let nonce = pick_nonce(*nonce, &mut next_nonce);
                let plaintext = match plain {
                    InviterPlain::Invite(spec) => {
                        let data = spec.data.bytes();
                        let data = &data[..data.len().min(MAX_PLAINTEXT / 2)];
                        let message: String =
                            spec.message.0.chars().take(MAX_PLAINTEXT / 8).collect();
                        let bytes = invite_payload(
                            *spec.app.id().as_bytes(),
                            &message,
                            data,
                            key_bytes(spec.key),
                            signature(spec.sig, INVITER_LABEL, INVITEE_LABEL, &hash),
                        );
                        sealed = Some(SealedInvite {
                            application: spec.app.id(),
                            message,
                            data: data.to_vec(),
                            valid: spec.key == KeySpec::Mallory && spec.sig == SigSpec::Valid,
                        });
                        bytes
                    }
                    InviterPlain::Cancel => encode_payload(&InviterMessage::Cancel, 8),
                    InviterPlain::Raw(chunk) => {
                        chunk.0[..chunk.0.len().min(MAX_PLAINTEXT)].to_vec()
                    }
                };
                // A Cancel is counted by what was sealed, however the script
                // spelled it: any plaintext that decodes as a Cancel (the
                // raw byte `01` is one) can withdraw a prompt.
                cancel_sent |= w.side.prompt.is_some()
                    && matches!(
                        payload::decode::<InviterMessage<'_>>(&plaintext),
                        Ok(InviterMessage::Cancel)
                    );
                let sealed_frame = channel.seal(nonce, &plaintext);
                // Nothing is taken before the Invite, so while the invitee
                // waits for it the first nonce is due.
                sealed_right = sealed.as_ref().is_some_and(|this| {
                    this.valid
                        && nonce == 0
                        && !raw_fed
                        && !had_inviter
                        && w.finished.is_none()
                        && this.message.chars().count() <= 255
                        && this.data.len() <= beckon_core::limits::MAX_DATA_LEN
                        && sealed_frame.len() <= invite_frame_len(max_data_for(B))
                });
                w.input(&mut m, clock.now, &sealed_frame, &dir);
            }
            FakeInviterOp::Raw(chunk) => {
                raw_fed = true;
                w.input(&mut m, clock.now, &chunk.0, &dir);
            }
            FakeInviterOp::Time(when) => w.timed(&mut m, &mut clock, *when, Watch::timeout),
            FakeInviterOp::Decide(when, d) => {
                w.timed(&mut m, &mut clock, *when, |w, m, now| w.decide(m, now, d));
            }
            FakeInviterOp::Close => w.close(&mut m, clock.now),
            FakeInviterOp::Directory(spec) => dir = spec.build(),
        }
        w.settle(&mut m, true);
        if sealed_right {
            // Completeness: a valid Invite sealed right is authenticated
            // (and then the policy decides, below).
            assert_eq!(
                m.inviter(),
                Some(k.mallory_pk),
                "a valid Invite, sealed right, was not taken"
            );
        }
        if !had_inviter {
            if let Some(key) = m.inviter() {
                // Only a valid signature of Mallory's gets an Invite in, and
                // then the policy decides, in its order.
                assert_eq!(key, k.mallory_pk);
                let Some(this) = sealed.take() else {
                    panic!("an Invite passed that the adversary did not seal");
                };
                assert!(this.valid, "an Invite with a bad signature passed");
                let too_large = this.data.len() > max_data_for(B);
                match expected_verdict(&dir, &key, &this.application, too_large) {
                    Some(r) => assert_eq!(w.finished, Some(InviteeOutcome::Refused(r))),
                    None => assert!(w.side.prompt.is_some(), "no prompt for a good Invite"),
                }
                invite = Some(this);
            }
        }
        if let (Some(p), false) = (w.side.prompt, had_prompt) {
            let this = invite.as_ref().expect("a prompt for an Invite");
            let shown = m.invitation().expect("the prompt's invitation");
            assert_eq!(p.application, this.application);
            assert_eq!(shown.message(), this.message);
            assert_eq!(shown.data(), this.data);
            let contact =
                dir.contact(&k.mallory_pk).map(Contact::permission) == Some(Permission::Allowed);
            assert_eq!(p.is_contact, contact, "is_contact");
        }
        if w.finished == Some(InviteeOutcome::Cancelled) {
            assert!(cancel_sent, "a prompt withdrawn without a Cancel");
        }
    }
    w.run_out(&mut m, &mut clock);
    Some(w.into_run())
}
