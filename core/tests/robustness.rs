//! Robustness of both state machines against hostile and oddly chunked
//! bytes.
//!
//! * **Bit flips.** An accepted exchange, a refused one (the inviter is not
//!   trusted) and one refused in clear (invitations off) are recorded with
//!   fixed keys. Each is replayed once for every bit of every frame, with
//!   that one bit flipped on the wire and everything else honest: the user
//!   accepts when prompted and the clock runs past every deadline. Nothing
//!   may panic, each side must emit exactly one `Finished`, the side that
//!   received the flipped frame must end in a typed error, and the inviter
//!   must never report an answer.
//! * **Fields.** `snow` plays an adversarial peer that completes a genuine
//!   Noise channel, so arbitrary postcard plaintexts can be sent inside it:
//!   every field truncated, over-long, mistagged, mis-signed. Each yields
//!   its specific [`ProtocolError`]. Frame-level fields (length, kind,
//!   Hello body) are checked the same way.
//! * **Splits.** The same exchange is fed to each state machine in two
//!   chunks split at every byte boundary, and one byte at a time: the
//!   events and every transmitted byte are those of the unsplit run.
//!
//! The state machines are deterministic but not `Clone` (they hold keys),
//! so a replay runs the honest exchange again up to just before the
//! tampered frame is delivered, stops there, and resumes with the flip;
//! the test `snapshot_replays_equal_replays_from_scratch` checks that this
//! is the same as one run with the flip from the start. Likewise a machine
//! to poke is rebuilt from the inputs that made it ([`InviteeAt`],
//! [`InviterAt`]).

mod common;

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use beckon_core::internal::frame::{ANSWER_FRAME_MAX, PROOF_FRAME_LEN};
use beckon_core::internal::handshake::{INVITEE_LABEL, INVITER_LABEL};
use beckon_core::internal::payload::SealedRefusal;
use beckon_core::internal::payload::{self, AnswerMessage, InviterMessage, ProofPayload};
use beckon_core::wire::{buffer_size, max_data_for, refusal_frame, ClearRefusal, DEFAULT_BUFFER};
use beckon_core::*;
use beckon_testkit::adversary::{
    answer_payload, invite_payload, labelled, proof_payload, sign, signing_key, Channel,
    SnowInvitee, SnowInviter, WEAK_KEY,
};
use beckon_testkit::{
    bobs_directory, cast, directory, drain_events, frame, transmit_all, whole_frames, Dir, CHESS,
    HELLO, PROOF, REFUSAL, SEALED,
};
use common::{
    clear_refusal_with_tag, REFUSAL_TAG_APPLICATION_NOT_REGISTERED, REFUSAL_TAG_BLOCKED,
    REFUSAL_TAG_NOT_TRUSTED, REFUSAL_TAG_TOO_LARGE,
};
use ed25519_dalek::Signer;
use embassy_time::Instant;

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// When every session here starts.
const T0: Instant = Instant::from_secs(1000);
const INVITER_EPHEMERAL: [u8; 32] = [0xE1; 32];
const INVITEE_EPHEMERAL: [u8; 32] = [0xE2; 32];
/// The adversary's fixed Noise ephemeral key.
const ADVERSARY_EPHEMERAL: [u8; 32] = [0xAD; 32];

/// Bob's usual directory: trusted only, Alice a contact, chess registered.
fn trusting() -> Dir {
    bobs_directory()
}

/// Trusted only, with no contacts: Alice is refused as not trusted.
fn distrusting() -> Dir {
    directory(Policy::TrustedOnly, &[])
}

/// Invitations off: refused in clear, before the handshake.
fn closed() -> Dir {
    let mut dir = trusting();
    dir.set_policy(Policy::Off);
    dir
}

/// Alice's inviter for Bob, Hello queued.
fn fresh_inviter() -> Inviter {
    let invitation = Invitation::new(CHESS, "A game?", b"board=standard").unwrap();
    Inviter::new(
        Config::default(),
        &cast().alice,
        Target::Contact(cast().bob_key),
        &invitation,
        EphemeralSecret::from_bytes(INVITER_EPHEMERAL),
        T0,
    )
    .unwrap()
}

fn fresh_invitee<const BUF: usize>() -> Invitee<BUF> {
    Invitee::new_sized(
        Config::default(),
        &cast().bob,
        EphemeralSecret::from_bytes(INVITEE_EPHEMERAL),
        T0,
    )
    .unwrap()
}

/// A frame with an arbitrary length field.
fn raw_frame(len: u16, kind: u8, body: &[u8]) -> Vec<u8> {
    let mut f = len.to_be_bytes().to_vec();
    f.push(kind);
    f.extend_from_slice(body);
    f
}

/// Appends everything `m` has to transmit to `out` (its events stay
/// queued).
fn drain<M: Machine>(m: &mut M, out: &mut Vec<u8>) {
    transmit_all(m, 1 << 16, out);
}

/// A directory that counts how often the per-inviter question was asked
/// (the facts; not the policy).
struct Spy {
    inner: Dir,
    consulted: AtomicUsize,
}

impl Spy {
    fn new(inner: Dir) -> Self {
        Spy {
            inner,
            consulted: AtomicUsize::new(0),
        }
    }

    fn consulted(&self) -> usize {
        self.consulted.load(Ordering::Relaxed)
    }

    fn consult(&self) {
        self.consulted.fetch_add(1, Ordering::Relaxed);
    }
}

impl Clone for Spy {
    fn clone(&self) -> Self {
        Spy {
            inner: self.inner.clone(),
            consulted: AtomicUsize::new(self.consulted()),
        }
    }
}

impl Directory for Spy {
    fn policy(&self) -> Policy {
        self.inner.policy()
    }
    fn facts(&self, inviter: &PublicKey, application: &ApplicationId) -> Facts {
        self.consult();
        self.inner.facts(inviter, application)
    }
}

// ---------------------------------------------------------------------------
// A two-party run with a tamperable wire
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    ToInvitee = 0,
    ToInviter = 1,
}

/// One bit flipped at `offset` of one direction's byte stream.
#[derive(Clone, Copy, Debug)]
struct Flip {
    way: Way,
    offset: usize,
    mask: u8,
}

/// Both roles on a zero-latency wire and a virtual clock. Transmitted bytes
/// wait in a queue and are delivered whole, one queue per step; the user
/// accepts as soon as prompted; when nothing moves, the clock jumps to the
/// next deadline.
struct Run<D> {
    now: Instant,
    inviter: Inviter,
    invitee: Invitee,
    directory: D,
    queue: [Vec<u8>; 2],
    delivered: [usize; 2],
    /// Everything each side transmitted (before any tampering).
    sent: [Vec<u8>; 2],
    inviter_events: Vec<InviterEvent>,
    invitee_events: Vec<InviteeEvent>,
    decisions: Vec<Result<(), Error>>,
}

/// What a hook tells [`Run::go`] just before a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hook {
    /// Deliver, and go on.
    Go,
    /// Stop before this delivery; `go` may be called again to resume.
    Stop,
}

impl<D: Directory + Clone + 'static> Run<D> {
    fn new(directory: D) -> Self {
        Run {
            now: T0,
            inviter: fresh_inviter(),
            invitee: fresh_invitee(),
            directory,
            queue: [Vec::new(), Vec::new()],
            delivered: [0, 0],
            sent: [Vec::new(), Vec::new()],
            inviter_events: Vec::new(),
            invitee_events: Vec::new(),
            decisions: Vec::new(),
        }
    }

    /// Runs to the end, or until `hook`, which sees the run just before
    /// each delivery, says to stop.
    fn go(&mut self, flip: Option<Flip>, hook: &mut dyn FnMut(Way, usize, &Self) -> Hook) {
        let mut buf = vec![0u8; 1 << 16];
        for _ in 0..10_000 {
            // 1. Deliver what is queued, one direction at a time.
            if let Some(way) = [Way::ToInvitee, Way::ToInviter]
                .into_iter()
                .find(|w| !self.queue[*w as usize].is_empty())
            {
                let w = way as usize;
                if hook(way, self.delivered[w], self) == Hook::Stop {
                    return;
                }
                let mut bytes = std::mem::take(&mut self.queue[w]);
                let start = self.delivered[w];
                if let Some(f) = flip.filter(|f| f.way == way) {
                    if (start..start + bytes.len()).contains(&f.offset) {
                        bytes[f.offset - start] ^= f.mask;
                    }
                }
                self.delivered[w] += bytes.len();
                match way {
                    Way::ToInvitee => self.invitee.handle_input(self.now, &bytes, &self.directory),
                    Way::ToInviter => self.inviter.handle_input(self.now, &bytes, &()),
                }
                continue;
            }
            // 2. Collect what each side transmits.
            let mut moved = false;
            let n = self.inviter.poll_transmit(&mut buf);
            if n > 0 {
                self.sent[0].extend_from_slice(&buf[..n]);
                self.queue[0].extend_from_slice(&buf[..n]);
                moved = true;
            }
            let n = self.invitee.poll_transmit(&mut buf);
            if n > 0 {
                self.sent[1].extend_from_slice(&buf[..n]);
                self.queue[1].extend_from_slice(&buf[..n]);
                moved = true;
            }
            if moved {
                continue;
            }
            // 3. Events; the user accepts a prompt at once.
            while let Some(e) = self.inviter.poll_event() {
                self.inviter_events.push(e);
                moved = true;
            }
            while let Some(e) = self.invitee.poll_event() {
                self.invitee_events.push(e);
                moved = true;
                if let InviteeEvent::Prompt(_) = e {
                    let r = self
                        .invitee
                        .handle_decision(self.now, Decision::accept("Sure").unwrap());
                    self.decisions.push(r);
                }
            }
            if moved {
                continue;
            }
            // 4. Idle: jump to the next deadline, or stop.
            let next = [self.inviter.poll_timeout(), self.invitee.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) => {
                    assert!(
                        t >= self.now,
                        "a deadline in the past: {t:?} < {:?}",
                        self.now
                    );
                    self.now = t;
                    self.inviter.handle_timeout(self.now);
                    self.invitee.handle_timeout(self.now);
                }
                None => return,
            }
        }
        panic!("the run never went idle");
    }

    fn inviter_result(&self) -> Option<Result<Response, SessionError>> {
        self.inviter_events.iter().find_map(|e| match e {
            InviterEvent::Finished(r) => Some(*r),
            _ => None,
        })
    }

    fn invitee_outcome(&self) -> Option<InviteeOutcome> {
        self.invitee_events.iter().find_map(|e| match e {
            InviteeEvent::Finished(o) => Some(*o),
            _ => None,
        })
    }

    /// Exactly one `Finished` on each side, as the last event, after at
    /// most one `Verified` / `Prompt`; returns both results.
    fn finished_once(&self) -> Result<(Result<Response, SessionError>, InviteeOutcome), String> {
        let a = &self.inviter_events;
        let b = &self.invitee_events;
        let a_fin = a
            .iter()
            .filter(|e| matches!(e, InviterEvent::Finished(_)))
            .count();
        let b_fin = b
            .iter()
            .filter(|e| matches!(e, InviteeEvent::Finished(_)))
            .count();
        if a_fin != 1 || !matches!(a.last(), Some(InviterEvent::Finished(_))) || a.len() > 2 {
            return Err(format!("inviter events {a:?}"));
        }
        if b_fin != 1 || !matches!(b.last(), Some(InviteeEvent::Finished(_))) || b.len() > 2 {
            return Err(format!("invitee events {b:?}"));
        }
        if !self.inviter.is_finished() || !self.invitee.is_finished() {
            return Err("a side is not finished".into());
        }
        Ok((
            self.inviter_result().unwrap(),
            self.invitee_outcome().unwrap(),
        ))
    }

    /// Everything observable, to compare two runs.
    fn summary(&self) -> String {
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?}",
            self.now,
            self.inviter_events,
            self.invitee_events,
            self.sent,
            self.decisions,
            self.inviter.answer_message()
        )
    }
}

/// A frame of a recorded exchange.
#[derive(Clone, Debug)]
struct Frame {
    name: &'static str,
    way: Way,
    start: usize,
    len: usize,
}

/// An honest exchange, its frames, and where each delivery began (the
/// points a replay may resume from).
struct Recording<D> {
    /// The directory as it was at the start.
    directory: D,
    honest: Run<D>,
    frames: Vec<Frame>,
    snapshots: Vec<(Way, usize)>,
}

fn record<D: Directory + Clone + 'static>(directory: D) -> Recording<D> {
    let mut honest = Run::new(directory.clone());
    let mut snapshots = Vec::new();
    honest.go(None, &mut |way, offset, _| {
        snapshots.push((way, offset));
        Hook::Go
    });
    let mut frames = Vec::new();
    for way in [Way::ToInvitee, Way::ToInviter] {
        let mut start = 0;
        for (i, f) in whole_frames(&honest.sent[way as usize]).iter().enumerate() {
            let name = match (way, i, f[2]) {
                (Way::ToInvitee, 0, HELLO) => "Hello",
                (Way::ToInvitee, 1, SEALED) => "Invite",
                (Way::ToInviter, 0, PROOF) => "Proof",
                (Way::ToInviter, 0, REFUSAL) => "Refusal",
                (Way::ToInviter, 1, SEALED) => "Answer",
                other => panic!("unexpected frame {other:?}"),
            };
            frames.push(Frame {
                name,
                way,
                start,
                len: f.len(),
            });
            start += f.len();
        }
    }
    Recording {
        directory,
        honest,
        frames,
        snapshots,
    }
}

impl<D: Directory + Clone + 'static> Recording<D> {
    fn frame(&self, name: &str) -> &Frame {
        self.frames.iter().find(|f| f.name == name).unwrap()
    }

    fn frame_bytes(&self, name: &str) -> &[u8] {
        let f = self.frame(name);
        &self.honest.sent[f.way as usize][f.start..f.start + f.len]
    }

    /// Replays the exchange with `flip`: runs it honestly to the last
    /// delivery that begins before the flipped byte, stops there (the
    /// snapshot), then resumes with the flip.
    fn replay(&self, flip: Flip) -> Run<D> {
        let snap = self
            .snapshots
            .iter()
            .rposition(|(w, off)| *w == flip.way && *off <= flip.offset)
            .expect("no snapshot before the flip");
        let mut run = Run::new(self.directory.clone());
        let mut deliveries = 0;
        run.go(None, &mut |way, offset, _| {
            if deliveries == snap {
                assert_eq!((way, offset), self.snapshots[snap], "not the honest run");
                return Hook::Stop;
            }
            deliveries += 1;
            Hook::Go
        });
        assert_eq!(deliveries, snap, "the honest run ended early");
        run.go(Some(flip), &mut |_, _, _| Hook::Go);
        run
    }
}

/// Every byte of a frame.
const ALL: Range<usize> = 0..usize::MAX;

/// Where in its frame a flipped byte is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Length,
    Kind,
    /// The index in the body.
    Body(usize),
}

fn part(byte: usize) -> Part {
    match byte {
        0 | 1 => Part::Length,
        2 => Part::Kind,
        i => Part::Body(i - 3),
    }
}

/// How the inviter ended.
type InviterEnd = Result<Response, SessionError>;

/// What a flip check says: why it is wrong, if it is.
type Verdict = Result<(), String>;

/// Checks one replay: the flipped frame, where in it, the bit's mask, the
/// run, and both ends.
type Check<'a, D> = &'a dyn Fn(&Frame, Part, u8, &Run<D>, InviterEnd, InviteeOutcome) -> Verdict;

/// Flips every bit of the named frames in turn and checks each replay:
/// no panic, one `Finished` per side, the inviter never reports an answer,
/// and the receiver of a corrupted Hello or Invite never accepts; then
/// `check` for what is specific to the exchange.
fn flip_every_bit<D: Directory + Clone + 'static>(
    rec: &Recording<D>,
    names: &[&str],
    bytes: Range<usize>,
    check: Check<'_, D>,
) {
    let mut failures = Vec::new();
    let mut count = 0;
    for frame in rec.frames.iter().filter(|f| names.contains(&f.name)) {
        for byte in bytes.start..bytes.end.min(frame.len) {
            for bit in 0..8 {
                count += 1;
                let mask = 1u8 << bit;
                let flip = Flip {
                    way: frame.way,
                    offset: frame.start + byte,
                    mask,
                };
                let where_ = format!("{} byte {byte} bit {bit}", frame.name);
                let run = match catch_unwind(AssertUnwindSafe(|| rec.replay(flip))) {
                    Ok(run) => run,
                    Err(_) => {
                        failures.push(format!("{where_}: PANIC"));
                        continue;
                    }
                };
                let verdict = run.finished_once().and_then(|(a, b)| {
                    if let Ok(r) = a {
                        return Err(format!("the inviter reported an answer {r:?}"));
                    }
                    if frame.way == Way::ToInvitee
                        && matches!(
                            b,
                            InviteeOutcome::Accepted(_)
                                | InviteeOutcome::Declined
                                | InviteeOutcome::Expired
                                | InviteeOutcome::Cancelled
                                | InviteeOutcome::Error { .. }
                        )
                    {
                        return Err(format!("the invitee ended with {b:?}"));
                    }
                    check(frame, part(byte), mask, &run, a, b)
                });
                if let Err(e) = verdict {
                    failures.push(format!("{where_}: {e}"));
                }
            }
        }
    }
    assert!(count > 0);
    assert!(
        failures.is_empty(),
        "{} of {count} flips failed, for example:\n{}",
        failures.len(),
        failures[..failures.len().min(30)].join("\n")
    );
}

fn expect(ok: bool, a: Result<Response, SessionError>, b: InviteeOutcome) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("unexpected ends: inviter {a:?}, invitee {b:?}"))
    }
}

/// What a flip in a frame of an exchange that has a handshake (accepted, or
/// refused by policy after it) must end in. `honest` is the invitee's
/// outcome in the unflipped run.
fn after_handshake_check<D>(
    honest: InviteeOutcome,
) -> impl Fn(&Frame, Part, u8, &Run<D>, InviterEnd, InviteeOutcome) -> Verdict {
    use ProtocolError::*;
    use SessionError::*;
    move |frame, part, mask, _run, a, b| {
        let ok = match (frame.name, part) {
            // The invitee rejects the Hello, or waits for more of it; the
            // inviter hears nothing.
            ("Hello", Part::Length) => {
                matches!(
                    b,
                    InviteeOutcome::Failed(Protocol(FrameLength | Malformed) | HandshakeTimeout)
                ) && a == Err(HandshakeTimeout)
            }
            ("Hello", Part::Kind) => {
                b == InviteeOutcome::Failed(Protocol(UnexpectedFrame)) && a == Err(HandshakeTimeout)
            }
            // Another version: refused in clear with this build's version.
            ("Hello", Part::Body(0)) => {
                b == InviteeOutcome::Failed(UnsupportedVersion { peer: 1 ^ mask })
                    && a == Err(UnsupportedVersion { peer: 1 })
            }
            // Another ephemeral key: the handshake hashes differ, so the
            // Proof does not open; the invitee waits for an Invite in vain.
            ("Hello", Part::Body(_)) => {
                a == Err(Protocol(Decrypt)) && b == InviteeOutcome::Failed(HandshakeTimeout)
            }
            ("Proof", Part::Length) => {
                matches!(a, Err(Protocol(FrameLength | Malformed)))
                    && b == InviteeOutcome::Failed(HandshakeTimeout)
            }
            ("Proof", Part::Kind) => {
                matches!(a, Err(Protocol(UnexpectedFrame | Malformed)))
                    && b == InviteeOutcome::Failed(HandshakeTimeout)
            }
            ("Proof", Part::Body(_)) => {
                a == Err(Protocol(Decrypt)) && b == InviteeOutcome::Failed(HandshakeTimeout)
            }
            // (An inviter that hears nothing after its Invite, not even a
            // keepalive, ends with PeerSilent at the idle timeout.)
            // A longer length: the invitee waits for bytes that never come
            // (handshake timeout) or, beyond its limit, refuses as too
            // large inside the channel, naming the length it saw, which
            // the inviter finds altered; a shorter one does not open.
            ("Invite", Part::Length) => match b {
                InviteeOutcome::Failed(Protocol(Decrypt | Malformed))
                | InviteeOutcome::Failed(HandshakeTimeout) => a == Err(PeerSilent),
                InviteeOutcome::Refused(Refusal::TooLarge) => a == Err(Protocol(LengthTampered)),
                _ => false,
            },
            ("Invite", Part::Kind) => {
                b == InviteeOutcome::Failed(Protocol(UnexpectedFrame)) && a == Err(PeerSilent)
            }
            ("Invite", Part::Body(_)) => {
                b == InviteeOutcome::Failed(Protocol(Decrypt)) && a == Err(PeerSilent)
            }
            ("Answer", Part::Length) => {
                matches!(
                    a,
                    Err(Protocol(FrameLength | Malformed | Decrypt)) | Err(PeerSilent)
                ) && b == honest
            }
            ("Answer", Part::Kind) => a == Err(Protocol(UnexpectedFrame)) && b == honest,
            ("Answer", Part::Body(_)) => a == Err(Protocol(Decrypt)) && b == honest,
            _ => false,
        };
        expect(ok, a, b)
    }
}

fn accepted_recording() -> &'static Recording<Spy> {
    static REC: OnceLock<Recording<Spy>> = OnceLock::new();
    REC.get_or_init(|| {
        let rec = record(Spy::new(trusting()));
        assert_eq!(
            rec.honest.finished_once().unwrap(),
            (
                Ok(Response::Accepted),
                InviteeOutcome::Accepted(Launch {
                    inviter: cast().alice_key,
                    is_contact: true,
                    application: CHESS,
                })
            )
        );
        let names: Vec<_> = rec.frames.iter().map(|f| f.name).collect();
        assert_eq!(names, ["Hello", "Invite", "Proof", "Answer"]);
        // The directory's facts are asked once, when the Invite is in.
        assert_eq!(
            rec.honest.directory.consulted(),
            1,
            "one facts call per Invite"
        );
        rec
    })
}

/// Flips every bit of `bytes` of the named frames of the accepted
/// exchange, also checking that the directory is never consulted (so the
/// same flips of the refused exchange, whose Hello and Proof are the same
/// bytes and whose policy is the same, end the same way).
fn flip_accepted(names: &[&str], bytes: Range<usize>) {
    let rec = accepted_recording();
    let honest = rec.honest.invitee_outcome().unwrap();
    let check = after_handshake_check(honest);
    let before_invite = !names.contains(&"Invite") && !names.contains(&"Answer");
    flip_every_bit(rec, names, bytes, &|f, p, m, run, a, b| {
        if before_invite && run.directory.consulted() != 0 {
            return Err("the directory was consulted".into());
        }
        check(f, p, m, run, a, b)
    });
}

// The Hello flips are the slowest (each makes the invitee sign a Proof),
// so they are shared between two tests that can run in parallel.
#[test]
fn every_bit_flip_of_the_hello_ends_both_sides_in_a_typed_error_part_1() {
    flip_accepted(&["Hello"], 0..18);
}

#[test]
fn every_bit_flip_of_the_hello_ends_both_sides_in_a_typed_error_part_2() {
    flip_accepted(&["Hello"], 18..usize::MAX);
}

#[test]
fn every_bit_flip_of_the_proof_ends_both_sides_in_a_typed_error() {
    flip_accepted(&["Proof"], ALL);
}

#[test]
fn every_bit_flip_of_the_invite_and_the_answer_ends_in_a_typed_error() {
    flip_accepted(&["Invite", "Answer"], ALL);
}

#[test]
fn every_bit_flip_of_a_refused_exchange_ends_in_a_typed_error() {
    let rec = record(Spy::new(distrusting()));
    assert_eq!(
        rec.honest.finished_once().unwrap(),
        (
            Err(SessionError::Refused {
                reason: Refusal::NotTrusted,
                authenticated: true
            }),
            InviteeOutcome::Refused(Refusal::NotTrusted)
        )
    );
    // Up to the Invite this exchange is byte for byte the accepted one, and
    // the directory (same policy) is only consulted on a valid Invite; so
    // the Hello and Proof flips of the accepted exchange (which check that
    // the directory was never consulted) cover this one too.
    let accepted = accepted_recording();
    for name in ["Hello", "Proof"] {
        assert_eq!(rec.frame_bytes(name), accepted.frame_bytes(name), "{name}");
    }
    assert_eq!(rec.honest.directory.policy(), Policy::TrustedOnly);
    assert_eq!(
        rec.honest.directory.consulted(),
        1,
        "one facts call per Invite"
    );
    let honest = rec.honest.invitee_outcome().unwrap();
    flip_every_bit(
        &rec,
        &["Invite", "Answer"],
        ALL,
        &after_handshake_check(honest),
    );
}

#[test]
fn every_bit_flip_of_an_exchange_refused_in_clear_ends_in_a_typed_error() {
    use ProtocolError::*;
    use SessionError::*;
    let rec = record(closed());
    let off = Refused {
        reason: Refusal::InvitationsOff,
        authenticated: false,
    };
    assert_eq!(
        rec.honest.finished_once().unwrap(),
        (Err(off), InviteeOutcome::Refused(Refusal::InvitationsOff))
    );
    flip_every_bit(
        &rec,
        &["Hello", "Refusal"],
        ALL,
        &|frame, part, mask, _, a, b| {
            let ok = match (frame.name, part) {
                ("Hello", Part::Length) => {
                    matches!(
                        b,
                        InviteeOutcome::Failed(
                            Protocol(FrameLength | Malformed) | HandshakeTimeout
                        )
                    ) && a == Err(HandshakeTimeout)
                }
                ("Hello", Part::Kind) => {
                    b == InviteeOutcome::Failed(Protocol(UnexpectedFrame))
                        && a == Err(HandshakeTimeout)
                }
                ("Hello", Part::Body(0)) => {
                    b == InviteeOutcome::Failed(UnsupportedVersion { peer: 1 ^ mask })
                        && a == Err(UnsupportedVersion { peer: 1 })
                }
                // The invitee refuses before it could notice: the refusal is
                // unauthenticated, and reported as such.
                ("Hello", Part::Body(_)) => {
                    b == InviteeOutcome::Refused(Refusal::InvitationsOff) && a == Err(off)
                }
                // A clear refusal is not authenticated: a flip of its version
                // goes unnoticed, any other is caught (only InvitationsOff
                // and Busy may come in clear, and no flip of one makes the
                // other).
                ("Refusal", Part::Length) => {
                    matches!(
                        a,
                        Err(Protocol(FrameLength | Malformed)) | Err(HandshakeTimeout)
                    )
                }
                ("Refusal", Part::Kind) => matches!(a, Err(Protocol(UnexpectedFrame | Malformed))),
                ("Refusal", Part::Body(0)) => a == Err(off),
                ("Refusal", Part::Body(_)) => a == Err(Protocol(Malformed)),
                _ => false,
            };
            let invitee_ok =
                frame.name == "Hello" || b == InviteeOutcome::Refused(Refusal::InvitationsOff);
            expect(ok && invitee_ok, a, b)
        },
    );
}

#[test]
fn snapshot_replays_equal_replays_from_scratch() {
    let rec = accepted_recording();
    for frame in &rec.frames {
        for (byte, mask) in [(3, 0x01), (frame.len - 1, 0x80)] {
            let flip = Flip {
                way: frame.way,
                offset: frame.start + byte,
                mask,
            };
            let from_snapshot = rec.replay(flip);
            let mut from_scratch = Run::new(Spy::new(trusting()));
            from_scratch.go(Some(flip), &mut |_, _, _| Hook::Go);
            assert_eq!(
                from_snapshot.summary(),
                from_scratch.summary(),
                "{flip:?} in the {}",
                frame.name
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The adversary: `snow` on the other end of a genuine channel
// ---------------------------------------------------------------------------

/// Some 32 bytes that are not an Ed25519 point.
fn not_a_point() -> [u8; 32] {
    (2u8..)
        .map(|i| {
            let mut b = [0u8; 32];
            b[0] = i;
            b
        })
        .find(|b| PublicKey::from_bytes(b) == Err(KeyError::InvalidPoint))
        .unwrap()
}

/// How a state machine reacted to some input.
#[derive(Debug)]
struct Reaction<E> {
    events: Vec<E>,
    sent: Vec<u8>,
}

impl Reaction<InviteeEvent> {
    fn outcome(&self) -> Option<InviteeOutcome> {
        self.events.iter().find_map(|e| match e {
            InviteeEvent::Finished(o) => Some(*o),
            _ => None,
        })
    }
    fn prompted(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, InviteeEvent::Prompt(_)))
    }
}

/// Everything `m` had to say after an input: its bytes and its events.
fn react<M: Machine>(mut m: M) -> (M, Reaction<M::Event>) {
    let mut sent = Vec::new();
    drain(&mut m, &mut sent);
    let events = drain_events(&mut m);
    (m, Reaction { events, sent })
}

/// An invitee as the inputs that made it: fresh, then each input fed
/// whole at `T0` with `directory`, and everything it had to say drained
/// after each. Machines hold keys and are not `Clone`; being
/// deterministic, one made again from the same inputs is the same
/// machine, so each poke gets its own.
#[derive(Clone)]
struct InviteeAt<const BUF: usize> {
    directory: Dir,
    inputs: Vec<Vec<u8>>,
}

impl<const BUF: usize> InviteeAt<BUF> {
    /// A fresh invitee, which will read with `directory`.
    fn fresh(directory: &Dir) -> Self {
        InviteeAt {
            directory: directory.clone(),
            inputs: Vec::new(),
        }
    }

    /// This invitee after one more input.
    fn then(&self, input: &[u8]) -> Self {
        let mut next = self.clone();
        next.inputs.push(input.to_vec());
        next
    }

    fn make(&self) -> Invitee<BUF> {
        let mut m = fresh_invitee::<BUF>();
        for input in &self.inputs {
            m.handle_input(T0, input, &self.directory);
            (m, _) = react(m);
        }
        m
    }
}

/// What an [`InviterAt`] was given.
#[derive(Clone, Debug)]
enum Step {
    Input(Vec<u8>),
    Cancel,
}

/// An inviter as the steps that made it, as [`InviteeAt`]: Alice's fresh
/// inviter with its Hello sent, then each step at `T0`, and everything it
/// had to say drained after each.
#[derive(Clone, Default)]
struct InviterAt {
    steps: Vec<Step>,
}

impl InviterAt {
    /// This inviter after one more step.
    fn then(&self, step: Step) -> Self {
        let mut next = self.clone();
        next.steps.push(step);
        next
    }

    fn make(&self) -> Inviter {
        let mut m = fresh_inviter();
        let mut hello = Vec::new();
        drain(&mut m, &mut hello);
        for step in &self.steps {
            match step {
                Step::Input(input) => m.handle_input(T0, input, &()),
                Step::Cancel => m.handle_cancel(T0),
            }
            (m, _) = react(m);
        }
        m
    }
}

/// Feeds `input` to its own copy of `invitee` at `T0` and collects what it
/// does.
fn poke_invitee<const BUF: usize>(
    invitee: &InviteeAt<BUF>,
    directory: &Dir,
    input: &[u8],
) -> (Invitee<BUF>, Reaction<InviteeEvent>) {
    let mut m = invitee.make();
    m.handle_input(T0, input, directory);
    react(m)
}

fn poke_inviter(inviter: &InviterAt, input: &[u8]) -> (Inviter, Reaction<InviterEvent>) {
    let mut m = inviter.make();
    m.handle_input(T0, input, &());
    react(m)
}

/// A protocol error.
fn p(e: ProtocolError) -> SessionError {
    SessionError::Protocol(e)
}

/// A failure of the invitee: exactly this error, one `Finished`, no prompt,
/// nothing sent.
#[track_caller]
fn assert_invitee_fails(r: &Reaction<InviteeEvent>, error: SessionError, what: &str) {
    assert_eq!(
        r.events,
        [InviteeEvent::Finished(InviteeOutcome::Failed(error))],
        "{what}"
    );
    assert!(r.sent.is_empty(), "{what}: the invitee sent {:?}", r.sent);
}

/// A failure of the inviter: exactly this error, one `Finished`, nothing
/// sent (in particular no Invite).
#[track_caller]
fn assert_inviter_fails(r: &Reaction<InviterEvent>, error: SessionError, what: &str) {
    assert_eq!(r.events, [InviterEvent::Finished(Err(error))], "{what}");
    assert!(r.sent.is_empty(), "{what}: the inviter sent {:?}", r.sent);
}

/// An adversarial inviter: `snow` has completed the handshake with a real
/// invitee, which now waits for the Invite.
struct FakeInviter<const BUF: usize> {
    /// The invitee after the Hello.
    invitee: InviteeAt<BUF>,
    channel: Channel,
    /// The final handshake hash, which the inviter signs.
    hash: [u8; 64],
    /// The hash the invitee signed.
    proof_hash: [u8; 64],
}

impl<const BUF: usize> FakeInviter<BUF> {
    fn new(directory: &Dir) -> Self {
        let noise = SnowInviter::new(Some(&ADVERSARY_EPHEMERAL));
        let hello = noise.hello().to_vec();
        assert_eq!(
            hello,
            frame(HELLO, &[&[1u8][..], &noise.ephemeral()].concat())
        );
        let mut invitee = fresh_invitee::<BUF>();
        invitee.handle_input(T0, &hello, directory);
        let mut proof = Vec::new();
        drain(&mut invitee, &mut proof);
        assert!(drain_events(&mut invitee).is_empty());
        let invitee = InviteeAt::fresh(directory).then(&hello);
        assert_eq!(proof.len(), PROOF_FRAME_LEN);
        assert_eq!(proof[2], PROOF);
        let (plain, channel) = noise.read_proof(&proof).unwrap();
        let theirs: ProofPayload = payload::decode(&plain).unwrap();
        assert_eq!(theirs.key, cast().bob_key.to_bytes());
        let proof_hash = channel.proof_hash();
        assert!(cast()
            .bob_key
            .verify(&labelled(INVITEE_LABEL, &proof_hash), &theirs.signature.0));
        FakeInviter {
            invitee,
            hash: channel.hash(),
            channel,
            proof_hash,
        }
    }

    /// A Sealed frame holding `plaintext`, encrypted under `nonce`.
    fn seal(&self, nonce: u64, plaintext: &[u8]) -> Vec<u8> {
        self.channel.seal(nonce, plaintext)
    }

    /// Opens the invitee's first Sealed frame in `sent`.
    fn open(&self, sent: &[u8]) -> Vec<u8> {
        assert_eq!(sent[2], SEALED);
        let len = 2 + usize::from(u16::from_be_bytes([sent[0], sent[1]]));
        assert_eq!(len, sent.len());
        self.channel.open(0, sent).unwrap()
    }

    /// Alice's genuine signature over this channel.
    fn alice_signature(&self) -> [u8; 64] {
        sign(&cast().alice, INVITER_LABEL, &self.hash)
    }

    fn send(&self, directory: &Dir, plaintext: &[u8]) -> (Invitee<BUF>, Reaction<InviteeEvent>) {
        poke_invitee(&self.invitee, directory, &self.seal(0, plaintext))
    }
}

/// An Invite for chess.
fn invite_plaintext(message: &str, data: &[u8], key: [u8; 32], signature: [u8; 64]) -> Vec<u8> {
    invite_payload(*CHESS.as_bytes(), message, data, key, signature)
}

fn answer_plaintext(answer: &AnswerMessage<'_>) -> Vec<u8> {
    answer_payload(answer)
}

#[test]
fn a_fake_inviter_gets_the_specific_error_for_every_bad_invite_field() {
    use ProtocolError::*;
    let dir = trusting();
    let fake = FakeInviter::<DEFAULT_BUFFER>::new(&dir);
    let alice = cast().alice_key.to_bytes();
    let sig = fake.alice_signature();
    let fails = |plaintext: &[u8], e: ProtocolError, what: &str| {
        let (_, r) = fake.send(&dir, plaintext);
        assert_invitee_fails(&r, p(e), what);
    };

    // Controls: the genuine Invite, and one at every limit, prompt.
    let max = max_data_for(DEFAULT_BUFFER);
    let longest = "𝄞".repeat(255);
    for (message, data) in [
        ("A game?", &b"board=standard"[..]),
        (&longest, &vec![7u8; max]),
    ] {
        let (m, r) = fake.send(&dir, &invite_plaintext(message, data, alice, sig));
        assert!(r.prompted() && r.sent.is_empty(), "{r:?}");
        assert_eq!(m.invitation().unwrap().message(), message);
        assert_eq!(m.invitation().unwrap().data(), data);
        assert_eq!(m.inviter(), Some(cast().alice_key));
    }

    // The message: 256 characters of one, two and four bytes each.
    for c in ["a", "é", "𝄞"] {
        let message = c.repeat(256);
        fails(
            &invite_plaintext(&message, b"", alice, sig),
            FieldTooLong,
            c,
        );
    }
    // The data: one byte over the protocol's 16 KiB.
    let over = vec![0; 16 * 1024 + 1];
    fails(
        &invite_plaintext("", &over, alice, sig),
        FieldTooLong,
        "16 KiB + 1",
    );
    // Truncated at every byte, and one trailing byte.
    let genuine = invite_plaintext("A game?", b"board=standard", alice, sig);
    for n in 0..genuine.len() {
        fails(&genuine[..n], Malformed, &format!("truncated to {n}"));
    }
    fails(&[&genuine[..], &[0]].concat(), Malformed, "a trailing byte");
    // Unknown tags of the message enum.
    for tag in [2u8, 3, 0x7f] {
        let bad = [&[tag][..], &genuine[1..]].concat();
        fails(&bad, Malformed, &format!("tag {tag}"));
    }
    // Over-long (non-canonical) varints: the tag, the message length.
    fails(
        &[&[0x80, 0x00][..], &genuine[1..]].concat(),
        Malformed,
        "tag 0 in two bytes",
    );
    let empty = invite_plaintext("", b"", alice, sig);
    let bad = [&empty[..17], &[0x80, 0x00], &empty[18..]].concat();
    fails(&bad, Malformed, "length 0 in two bytes");
    // A message that is not UTF-8 (tag, 16-byte id, length, then text).
    let mut bad = invite_plaintext("ab", b"", alice, sig);
    assert_eq!(&bad[18..20], b"ab");
    bad[18..20].copy_from_slice(&[0xff, 0xfe]);
    fails(&bad, Malformed, "invalid UTF-8");
    // Lengths that run past the end.
    let mut bad = invite_plaintext("ab", b"", alice, sig);
    bad[17] = 100;
    fails(&bad, Malformed, "message length past the end");
    let mut bad = invite_plaintext("", b"xy", alice, sig);
    assert_eq!(bad[18], 2);
    bad[18] = 0x7f;
    fails(&bad, Malformed, "data length past the end");
    // Each fixed-size field one byte shorter (a byte taken out of it) or
    // longer (a byte put in): shorter leaves the payload short; longer
    // shifts every later field, which fails somewhere, never prompts.
    assert_eq!(empty.len(), 1 + 16 + 1 + 1 + 32 + 64);
    for (name, at) in [("application", 1usize), ("key", 19), ("signature", 51)] {
        let shorter = [&empty[..at], &empty[at + 1..]].concat();
        fails(&shorter, Malformed, &format!("{name} shorter"));
        let longer = [&empty[..at + 1], &[0x55], &empty[at + 1..]].concat();
        let (_, r) = fake.send(&dir, &longer);
        let failed = matches!(
            r.outcome(),
            Some(InviteeOutcome::Failed(SessionError::Protocol(_)))
        );
        assert!(failed && r.sent.is_empty(), "{name} longer: {r:?}");
    }

    // The inviter's key: weak, or not a point.
    for key in [WEAK_KEY, not_a_point()] {
        fails(&invite_plaintext("", b"", key, sig), BadKey, "bad key");
    }
    // Signatures: the invitee's label; the hash before the Proof; another
    // hash; no label; Carol's key with Alice's signature; zeros.
    let alice_id = &cast().alice;
    let mut other_hash = fake.hash;
    other_hash[0] ^= 1;
    let carol = cast().carol_key.to_bytes();
    for (what, key, signature) in [
        (
            "invitee label",
            alice,
            sign(alice_id, INVITEE_LABEL, &fake.hash),
        ),
        (
            "hash before the Proof",
            alice,
            sign(alice_id, INVITER_LABEL, &fake.proof_hash),
        ),
        (
            "another hash",
            alice,
            sign(alice_id, INVITER_LABEL, &other_hash),
        ),
        (
            "no label",
            alice,
            signing_key(alice_id).sign(&fake.hash).to_bytes(),
        ),
        ("Carol's key", carol, sig),
        ("zero signature", alice, [0; 64]),
    ] {
        fails(
            &invite_plaintext("", b"", key, signature),
            BadSignature,
            what,
        );
    }

    // A Cancel before any Invite.
    fails(&[payload::CANCEL_TAG], UnexpectedFrame, "Cancel first");
    // Sealed frames that do not open: shorter than a tag, the wrong nonce,
    // a flipped tag.
    let (_, r) = poke_invitee(&fake.invitee, &dir, &frame(SEALED, &[0; 15]));
    assert_invitee_fails(&r, p(Malformed), "shorter than a tag");
    let (_, r) = poke_invitee(&fake.invitee, &dir, &fake.seal(1, &genuine));
    assert_invitee_fails(&r, p(Decrypt), "nonce 1");
    let mut bad = fake.seal(0, &genuine);
    *bad.last_mut().unwrap() ^= 1;
    let (_, r) = poke_invitee(&fake.invitee, &dir, &bad);
    assert_invitee_fails(&r, p(Decrypt), "flipped tag");
}

#[test]
fn data_over_the_invitees_limit_is_refused_and_over_the_protocols_is_an_error() {
    let dir = trusting();
    let alice = cast().alice_key.to_bytes();
    // Sends data of `len` bytes; checks it is refused as too large, inside
    // the channel, naming the Invite's length field, the invitation unread.
    fn refused<const BUF: usize>(fake: &FakeInviter<BUF>, dir: &Dir, len: usize) {
        let plaintext = invite_plaintext(
            "",
            &vec![1; len],
            cast().alice_key.to_bytes(),
            fake.alice_signature(),
        );
        let invite = fake.seal(0, &plaintext);
        let (m, r) = poke_invitee(&fake.invitee, dir, &invite);
        let too_large = InviteeOutcome::Refused(Refusal::TooLarge);
        assert_eq!(r.events, [InviteeEvent::Finished(too_large)], "{len}");
        let invite_len = u32::try_from(invite.len() - 2).unwrap();
        let expected = answer_plaintext(&AnswerMessage::TooLarge { invite_len });
        assert_eq!(fake.open(&r.sent), expected, "{len}");
        assert!(m.invitation().is_none(), "{len}");
    }

    // A device with a 512-byte limit: over it but within the protocol's
    // 16 KiB, in a frame that fits its buffer or not, is refused; so is a
    // frame too large for any buffer.
    let small = FakeInviter::<{ buffer_size(512) }>::new(&dir);
    assert_eq!(max_data_for(buffer_size(512)), 512);
    let (_, r) = small.send(
        &dir,
        &invite_plaintext("", &[1; 512], alice, small.alice_signature()),
    );
    assert!(r.prompted(), "{r:?}");
    for len in [513, 600, 2000, 16 * 1024, 16 * 1024 + 1] {
        refused(&small, &dir, len);
    }

    // The default device: 16 KiB prompts; one byte more, in a frame that
    // still fits, is a protocol error; a frame over the buffer is refused.
    let fake = FakeInviter::<DEFAULT_BUFFER>::new(&dir);
    let sig = fake.alice_signature();
    let (_, r) = fake.send(&dir, &invite_plaintext("", &vec![1; 16 * 1024], alice, sig));
    assert!(r.prompted(), "{r:?}");
    let over = invite_plaintext("", &vec![1; 16 * 1024 + 1], alice, sig);
    let (_, r) = fake.send(&dir, &over);
    assert_invitee_fails(&r, p(ProtocolError::FieldTooLong), "16 KiB + 1");
    refused(&fake, &dir, 18 * 1024);
}

#[test]
fn a_fake_inviter_cannot_send_anything_but_a_cancel_to_a_prompt() {
    use ProtocolError::*;
    let dir = trusting();
    let fake = FakeInviter::<DEFAULT_BUFFER>::new(&dir);
    let alice = cast().alice_key.to_bytes();
    let invite = invite_plaintext("A game?", b"", alice, fake.alice_signature());
    let (m, r) = fake.send(&dir, &invite);
    assert!(r.prompted() && m.is_prompting());
    let prompting = fake.invitee.then(&fake.seal(0, &invite));

    // Control: a Cancel withdraws the prompt, and says so.
    let (m, r) = poke_invitee(&prompting, &dir, &fake.seal(1, &[payload::CANCEL_TAG]));
    assert_eq!(
        r.events,
        [InviteeEvent::Finished(InviteeOutcome::Cancelled)]
    );
    assert_eq!(
        fake.open(&r.sent),
        answer_plaintext(&AnswerMessage::Cancelled)
    );
    assert!(m.is_finished());

    // A keepalive (tag 2) keeps the prompt up.
    let keepalive = fake.seal(1, &[payload::INVITER_KEEPALIVE_TAG]);
    let (m, r) = poke_invitee(&prompting, &dir, &keepalive);
    assert!(r.events.is_empty(), "a keepalive ended the session");
    assert!(m.is_prompting());

    for (what, input, error) in [
        ("a second Invite", fake.seal(1, &invite), FrameLength),
        (
            "a Cancel with a trailing byte",
            fake.seal(1, &[1, 0]),
            FrameLength,
        ),
        (
            "a Cancel in two bytes",
            fake.seal(1, &[0x81, 0x00]),
            FrameLength,
        ),
        ("tag 0 alone", fake.seal(1, &[0]), Malformed),
        ("tag 3", fake.seal(1, &[3]), Malformed),
        (
            "a replayed nonce",
            fake.seal(0, &[payload::CANCEL_TAG]),
            Decrypt,
        ),
        (
            "a clear refusal",
            refusal_frame(ClearRefusal::Busy).to_vec(),
            UnexpectedFrame,
        ),
        ("a Hello", frame(HELLO, &[1; 33]), FrameLength),
        ("kind 9", frame(9, &[0; 17]), UnexpectedFrame),
        ("length 0", raw_frame(0, SEALED, &[]), FrameLength),
    ] {
        let (_, r) = poke_invitee(&prompting, &dir, &input);
        assert_invitee_fails(&r, p(error), what);
    }
}

#[test]
fn frame_level_fields_reaching_the_invitee_give_typed_errors() {
    use ProtocolError::*;
    let dir = trusting();
    let invitee = InviteeAt::<DEFAULT_BUFFER>::fresh(&dir);
    let e = [9u8; 32];
    let hello = |version: u8, e: &[u8]| frame(HELLO, &[&[version], e].concat());
    for (what, input, error) in [
        ("length 0", raw_frame(0, HELLO, &[]), p(FrameLength)),
        (
            "length over a Hello's most",
            raw_frame(255, HELLO, &[]),
            p(FrameLength),
        ),
        (
            "length 0xffff",
            raw_frame(0xffff, HELLO, &[]),
            p(FrameLength),
        ),
        ("a kind byte alone", raw_frame(1, HELLO, &[]), p(Malformed)),
        ("Hello body of 32", hello(1, &e[..31]), p(Malformed)),
        (
            "Hello body of 34",
            hello(1, &[&e[..], &[0]].concat()),
            p(Malformed),
        ),
        (
            "Hello body of 253, the most",
            hello(1, &[0; 252]),
            p(Malformed),
        ),
        ("kind 0", frame(0, &[1; 33]), p(UnexpectedFrame)),
        ("kind 5", frame(5, &[1; 33]), p(UnexpectedFrame)),
        ("kind 0xff", frame(0xff, &[1; 33]), p(UnexpectedFrame)),
        ("a Proof first", frame(PROOF, &[1; 33]), p(UnexpectedFrame)),
        (
            "a Refusal first",
            frame(REFUSAL, &[1, 0]),
            p(UnexpectedFrame),
        ),
        (
            "a Sealed first",
            frame(SEALED, &[0; 20]),
            p(UnexpectedFrame),
        ),
        ("a low-order key", hello(1, &[0; 32]), p(LowOrderPoint)),
    ] {
        // Whole, and one byte at a time (in more than one piece).
        let (_, r) = poke_invitee(&invitee, &dir, &input);
        assert_invitee_fails(&r, error, what);
        assert!(input.len() > 1, "{what}: {input:?}");
        let mut m = invitee.make();
        for b in &input {
            m.handle_input(T0, std::slice::from_ref(b), &dir);
        }
        assert_eq!(
            m.outcome(),
            Some(InviteeOutcome::Failed(error)),
            "{what}, bytewise"
        );
    }
    // Another version, of this Hello's size or a later, longer one: refused
    // in clear with this build's version.
    for body in [&e[..], &[0; 60][..], &[0; 252][..]] {
        let (_, r) = poke_invitee(&invitee, &dir, &hello(2, body));
        let outcome = InviteeOutcome::Failed(SessionError::UnsupportedVersion { peer: 2 });
        assert_eq!(r.events, [InviteeEvent::Finished(outcome)]);
        assert_eq!(r.sent, refusal_frame(ClearRefusal::UnsupportedVersion));
    }
    // A length longer than what comes: the invitee waits, and the handshake
    // timeout ends it.
    let (mut m, r) = poke_invitee(&invitee, &dir, &raw_frame(40, HELLO, &[1; 33]));
    assert!(r.events.is_empty() && r.sent.is_empty());
    let deadline = m.poll_timeout().unwrap();
    m.handle_timeout(deadline);
    assert_eq!(
        m.outcome(),
        Some(InviteeOutcome::Failed(SessionError::HandshakeTimeout))
    );
}

/// An adversarial invitee: `snow` answers a real inviter's Hello.
struct FakeInvitee {
    /// The inviter, its Hello sent.
    inviter: InviterAt,
    hello: Vec<u8>,
}

impl FakeInvitee {
    fn new() -> Self {
        let mut inviter = fresh_inviter();
        let mut hello = Vec::new();
        drain(&mut inviter, &mut hello);
        assert_eq!(hello.len(), 36);
        assert!(drain_events(&mut inviter).is_empty());
        FakeInvitee {
            inviter: InviterAt::default(),
            hello,
        }
    }

    /// `snow` having read the Hello.
    fn noise(&self) -> SnowInvitee {
        SnowInvitee::new(&self.hello, &ADVERSARY_EPHEMERAL).unwrap()
    }

    /// The hash a Proof signs.
    fn hash(&self) -> [u8; 64] {
        self.noise().proof_hash()
    }

    /// A Proof frame carrying `payload`, and the channel after it.
    fn proof(&self, payload: &[u8]) -> (Vec<u8>, Channel) {
        self.noise().proof(payload)
    }

    fn proof_payload(&self, key: [u8; 32], signature: [u8; 64]) -> Vec<u8> {
        proof_payload(key, signature)
    }

    fn bobs_payload(&self) -> Vec<u8> {
        let signature = sign(&cast().bob, INVITEE_LABEL, &self.hash());
        self.proof_payload(cast().bob_key.to_bytes(), signature)
    }

    /// Completes a genuine handshake as Bob: the inviter has sent its
    /// Invite and waits for the answer. Also returns the Invite's length
    /// field.
    fn handshake(&self) -> (InviterAt, Channel, u32) {
        let (proof, channel) = self.proof(&self.bobs_payload());
        let (_, r) = poke_inviter(&self.inviter, &proof);
        let inviter = self.inviter.then(Step::Input(proof));
        assert_eq!(r.events, [InviterEvent::Verified(cast().bob_key)]);
        // The Invite opens and carries Alice's signature over this channel.
        let plain = channel.open(0, &r.sent).unwrap();
        let InviterMessage::Invite(invite) = payload::decode(&plain).unwrap() else {
            panic!("not an Invite")
        };
        assert_eq!(invite.head.message, "A game?");
        let signed = labelled(INVITER_LABEL, &channel.hash());
        assert!(cast().alice_key.verify(&signed, &invite.proof.signature.0));
        let invite_len = u32::try_from(r.sent.len() - 2).unwrap();
        (inviter, channel, invite_len)
    }
}

fn seal_answer(channel: &Channel, nonce: u64, plaintext: &[u8]) -> Vec<u8> {
    channel.seal(nonce, plaintext)
}

#[test]
fn a_fake_invitee_gets_the_specific_error_for_every_bad_proof_field() {
    use ProtocolError::*;
    let fake = FakeInvitee::new();
    let bob = cast().bob_key.to_bytes();
    let h = fake.hash();
    let good = fake.bobs_payload();

    // Control: the genuine Proof is verified.
    let (proof, _) = fake.proof(&good);
    let (_, r) = poke_inviter(&fake.inviter, &proof);
    assert_eq!(r.events, [InviterEvent::Verified(cast().bob_key)]);

    // Truncated and extended payloads (a Proof has a fixed size).
    for n in [0, 1, 32, 95] {
        let (proof, _) = fake.proof(&good[..n]);
        let (_, r) = poke_inviter(&fake.inviter, &proof);
        assert_inviter_fails(&r, p(Malformed), &format!("payload of {n}"));
    }
    for extra in [1, 50] {
        let (proof, _) = fake.proof(&[&good[..], &vec![0; extra]].concat());
        let (_, r) = poke_inviter(&fake.inviter, &proof);
        assert_inviter_fails(&r, p(FrameLength), &format!("{extra} extra"));
    }
    // Keys and signatures.
    let bob_id = &cast().bob;
    let mut other_hash = h;
    other_hash[63] ^= 0x80;
    let by_bob = sign(bob_id, INVITEE_LABEL, &h);
    for (what, key, signature, error) in [
        ("weak key", WEAK_KEY, by_bob, BadKey),
        ("not a point", not_a_point(), by_bob, BadKey),
        (
            "inviter label",
            bob,
            sign(bob_id, INVITER_LABEL, &h),
            BadSignature,
        ),
        (
            "another hash",
            bob,
            sign(bob_id, INVITEE_LABEL, &other_hash),
            BadSignature,
        ),
        (
            "no label",
            bob,
            signing_key(bob_id).sign(&h).to_bytes(),
            BadSignature,
        ),
        (
            "by Carol",
            bob,
            sign(&cast().carol, INVITEE_LABEL, &h),
            BadSignature,
        ),
        ("zero signature", bob, [0; 64], BadSignature),
    ] {
        let (proof, _) = fake.proof(&fake.proof_payload(key, signature));
        let (m, r) = poke_inviter(&fake.inviter, &proof);
        assert_inviter_fails(&r, p(error), what);
        assert_eq!(m.responder(), None, "{what}");
    }
    // Carol, correctly signed: not the contact, and nothing of the
    // invitation leaves.
    let carol = cast().carol_key.to_bytes();
    let carols = fake.proof_payload(carol, sign(&cast().carol, INVITEE_LABEL, &h));
    let (proof, _) = fake.proof(&carols);
    let (m, r) = poke_inviter(&fake.inviter, &proof);
    assert_inviter_fails(&r, SessionError::ContactMismatch, "Carol");
    assert_eq!(m.responder(), Some(cast().carol_key));
}

#[test]
fn a_fake_invitee_gets_the_specific_error_for_every_bad_answer_field() {
    use ProtocolError::*;
    let fake = FakeInvitee::new();
    let (waiting, channel, invite_len) = fake.handshake();
    let answer = |plaintext: &[u8]| poke_inviter(&waiting, &seal_answer(&channel, 0, plaintext));
    let refused = |reason| {
        Err(SessionError::Refused {
            reason,
            authenticated: true,
        })
    };

    // Controls: every genuine answer, the longest message included.
    let longest = "𝄞".repeat(255);
    for (a, expected) in [
        (
            AnswerMessage::Accepted { message: &longest },
            Ok(Response::Accepted),
        ),
        (
            AnswerMessage::Declined { message: "no" },
            Ok(Response::Declined),
        ),
        (AnswerMessage::Expired, Ok(Response::Expired)),
        (
            AnswerMessage::Error {
                code: u32::MAX,
                message: &longest,
            },
            Ok(Response::Error { code: u32::MAX }),
        ),
        (
            AnswerMessage::Refused(SealedRefusal::Blocked),
            refused(Refusal::Blocked),
        ),
        (
            AnswerMessage::TooLarge { invite_len },
            refused(Refusal::TooLarge),
        ),
    ] {
        let (m, r) = answer(&answer_plaintext(&a));
        assert_eq!(r.events, [InviterEvent::Finished(expected)], "{a:?}");
        assert_eq!(m.answer_message(), Ok(a.message()));
    }

    let fails = |plaintext: &[u8], e: ProtocolError, what: &str| {
        let (m, r) = answer(plaintext);
        assert_inviter_fails(&r, p(e), what);
        assert_eq!(
            m.answer_message(),
            Err(Error::ResponseNotAvailable),
            "{what}"
        );
    };
    // 256 characters (up to 1024 bytes, which still fit the frame).
    for c in ["a", "é", "𝄞"] {
        let long = c.repeat(256);
        let accepted = AnswerMessage::Accepted { message: &long };
        fails(&answer_plaintext(&accepted), FieldTooLong, c);
        let error = AnswerMessage::Error {
            code: 1,
            message: &long,
        };
        fails(&answer_plaintext(&error), FieldTooLong, c);
    }
    // Truncated at every byte; a trailing byte.
    for a in [
        AnswerMessage::Accepted { message: "Sure" },
        AnswerMessage::Error {
            code: 0x1234_5678,
            message: "oops",
        },
        AnswerMessage::Refused(SealedRefusal::NotTrusted),
        AnswerMessage::TooLarge { invite_len },
    ] {
        let p = answer_plaintext(&a);
        for n in 0..p.len() {
            fails(&p[..n], Malformed, &format!("{a:?} truncated to {n}"));
        }
        fails(&[&p[..], &[0]].concat(), Malformed, &format!("{a:?} + 1"));
    }
    fails(&[2, 0], Malformed, "Expired + 1");
    // A keepalive (tag 7) is not an answer: the inviter still waits.
    let (m, r) = answer(&[payload::INVITEE_KEEPALIVE_TAG]);
    assert!(r.events.is_empty(), "a keepalive ended the session");
    assert_eq!(m.answer_message(), Err(Error::ResponseNotAvailable));
    assert!(m.outcome().is_none());
    fails(&[7, 0], Malformed, "a keepalive and a byte");
    // Unknown tags: of the answer, of the refusal reason.
    for tag in [8u8, 0x7f] {
        fails(&[tag], Malformed, &format!("answer tag {tag}"));
        fails(
            &[tag, 0],
            Malformed,
            &format!("answer tag {tag} and a byte"),
        );
    }
    for reason in [7u8, 0x7f] {
        fails(&[4, reason], Malformed, &format!("reason {reason}"));
    }
    // Over-long varints; an error code over 32 bits.
    fails(&[0x81, 0x00, 0x00], Malformed, "tag 1 in two bytes");
    fails(&[1, 0x80, 0x00], Malformed, "length 0 in two bytes");
    fails(&[3, 0x80, 0x00, 0x00], Malformed, "code 0 in two bytes");
    fails(
        &[3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0],
        Malformed,
        "code > u32",
    );
    // A message that is not UTF-8; a length past the end.
    fails(&[1, 2, 0xc3, 0x28], Malformed, "invalid UTF-8");
    fails(&[1, 9, b'a'], Malformed, "length past the end");
    // TooLarge only as its own answer, naming the length that was sent.
    fails(&[4, 5], Malformed, "Refused(TooLarge)");
    for seen in [0, invite_len - 1, invite_len + 1, u32::MAX] {
        let a = answer_plaintext(&AnswerMessage::TooLarge { invite_len: seen });
        fails(&a, LengthTampered, &format!("TooLarge naming {seen}"));
    }
    // An answer frame larger than any answer may be.
    let huge = "𝄞".repeat(300);
    let (_, r) = answer(&answer_plaintext(&AnswerMessage::Accepted {
        message: &huge,
    }));
    assert_inviter_fails(&r, p(FrameLength), "an oversized answer");
    // `Cancelled` when no Cancel was sent.
    let (_, r) = answer(&[5]);
    assert_inviter_fails(&r, p(UnexpectedFrame), "Cancelled without a Cancel");

    // After a Cancel: `Cancelled` is the acknowledgement, and an answer that
    // crossed the Cancel still counts.
    let mut cancelled = waiting.make();
    cancelled.handle_cancel(T0);
    let mut sent = Vec::new();
    drain(&mut cancelled, &mut sent);
    assert!(drain_events(&mut cancelled).is_empty());
    let cancelling = waiting.then(Step::Cancel);
    let plain = channel.open(1, &sent).unwrap();
    assert_eq!(plain, [payload::CANCEL_TAG]);
    let ack = |plaintext: &[u8]| poke_inviter(&cancelling, &seal_answer(&channel, 0, plaintext)).1;
    let accepted = answer_plaintext(&AnswerMessage::Accepted { message: "" });
    assert_eq!(
        ack(&[5]).events,
        [InviterEvent::Finished(Err(SessionError::Cancelled))]
    );
    assert_eq!(
        ack(&accepted).events,
        [InviterEvent::Finished(Ok(Response::Accepted))]
    );
    assert_inviter_fails(&ack(&[5, 0]), p(Malformed), "Cancelled + 1");
}

#[test]
fn an_unsolicited_cancelled_answer_leaves_no_answer_to_read() {
    let fake = FakeInvitee::new();
    let (waiting, channel, _) = fake.handshake();
    let (m, r) = poke_inviter(&waiting, &seal_answer(&channel, 0, &[5]));
    let error = p(ProtocolError::UnexpectedFrame);
    assert_inviter_fails(&r, error, "Cancelled without a Cancel");
    assert_eq!(m.outcome(), Some(Err(error)));
    // The session failed: there is no answer, so no answer message either,
    // as after every other bad answer.
    assert_eq!(m.answer_message(), Err(Error::ResponseNotAvailable));
}

#[test]
fn frame_level_fields_reaching_the_inviter_give_typed_errors() {
    use ProtocolError::*;
    let fake = FakeInvitee::new();
    let before = &fake.inviter;
    let (after, channel, _) = fake.handshake();
    let max_answer = u16::try_from(ANSWER_FRAME_MAX - 2).unwrap();
    let (proof, _) = fake.proof(&fake.bobs_payload());
    let body = &proof[3..];
    let low_order = frame(PROOF, &[&[0; 32][..], &proof[35..]].concat());
    // A clear refusal with any reason's tag, even one never sent in clear.
    let refusal = |version: u8, tag: u8| {
        let mut f = clear_refusal_with_tag(tag);
        f[3] = version;
        f.to_vec()
    };
    let tag = |reason: ClearRefusal| refusal_frame(reason)[4];
    for (what, at, input, error) in [
        ("length 0", before, raw_frame(0, PROOF, &[]), p(FrameLength)),
        (
            "length over a Proof",
            before,
            raw_frame(146, PROOF, &[]),
            p(FrameLength),
        ),
        (
            "length 0xffff",
            before,
            raw_frame(0xffff, PROOF, &[]),
            p(FrameLength),
        ),
        ("kind 0", before, frame(0, body), p(UnexpectedFrame)),
        ("kind 0xff", before, frame(0xff, body), p(UnexpectedFrame)),
        (
            "a Hello",
            before,
            frame(HELLO, &[1; 33]),
            p(UnexpectedFrame),
        ),
        (
            "a Sealed first",
            before,
            frame(SEALED, body),
            p(UnexpectedFrame),
        ),
        (
            "a short Proof",
            before,
            frame(PROOF, &body[1..]),
            p(Malformed),
        ),
        ("a low-order key", before, low_order, p(LowOrderPoint)),
        ("a refusal of 1", before, frame(REFUSAL, &[1]), p(Malformed)),
        (
            "a refusal of 3",
            before,
            frame(REFUSAL, &[1, 3, 0]),
            p(Malformed),
        ),
        (
            "an unknown reason",
            before,
            frame(REFUSAL, &[1, 7]),
            p(Malformed),
        ),
        (
            "a reason in two bytes",
            before,
            frame(REFUSAL, &[1, 0x83, 0]),
            p(Malformed),
        ),
        (
            "answer length 0",
            &after,
            raw_frame(0, SEALED, &[]),
            p(FrameLength),
        ),
        (
            "answer too long",
            &after,
            raw_frame(max_answer + 1, SEALED, &[]),
            p(FrameLength),
        ),
        (
            "answer kind 0",
            &after,
            frame(0, &[0; 20]),
            p(UnexpectedFrame),
        ),
        ("a second Proof", &after, proof.clone(), p(UnexpectedFrame)),
        (
            "a clear refusal",
            &after,
            refusal(1, tag(ClearRefusal::InvitationsOff)),
            p(UnexpectedFrame),
        ),
        (
            "shorter than a tag",
            &after,
            frame(SEALED, &[0; 15]),
            p(Malformed),
        ),
        (
            "nonce 1",
            &after,
            seal_answer(&channel, 1, &[2]),
            p(Decrypt),
        ),
    ] {
        let (_, r) = poke_inviter(at, &input);
        assert_inviter_fails(&r, error, what);
        assert!(input.len() > 1, "{what}: {input:?}");
        let mut m = at.make();
        for b in &input {
            m.handle_input(T0, std::slice::from_ref(b), &());
        }
        assert_eq!(m.outcome(), Some(Err(error)), "{what}, bytewise");
    }
    // Clear refusals: only those that can come before the handshake, and
    // then unauthenticated.
    for (reason, clear) in [
        (Refusal::InvitationsOff, ClearRefusal::InvitationsOff),
        (Refusal::Busy, ClearRefusal::Busy),
    ] {
        let (_, r) = poke_inviter(before, &refusal(1, tag(clear)));
        let e = SessionError::Refused {
            reason,
            authenticated: false,
        };
        assert_eq!(r.events, [InviterEvent::Finished(Err(e))]);
    }
    for (reason, tag) in [
        (Refusal::NotTrusted, REFUSAL_TAG_NOT_TRUSTED),
        (Refusal::Blocked, REFUSAL_TAG_BLOCKED),
        (
            Refusal::ApplicationNotRegistered,
            REFUSAL_TAG_APPLICATION_NOT_REGISTERED,
        ),
        (Refusal::TooLarge, REFUSAL_TAG_TOO_LARGE),
    ] {
        let (_, r) = poke_inviter(before, &refusal(1, tag));
        assert_inviter_fails(&r, p(Malformed), &format!("{reason:?} in clear"));
    }
    let (_, r) = poke_inviter(before, &refusal(7, tag(ClearRefusal::UnsupportedVersion)));
    let e = SessionError::UnsupportedVersion { peer: 7 };
    assert_eq!(r.events, [InviterEvent::Finished(Err(e))]);
    // The longest answer frame is still read (and fails to open).
    let longest = raw_frame(max_answer, SEALED, &vec![0; usize::from(max_answer) - 1]);
    let (m, r) = poke_inviter(&after, &longest);
    assert_inviter_fails(&r, p(Decrypt), "the longest answer frame");
    assert!(m.is_finished());
}

// ---------------------------------------------------------------------------
// Split at every byte boundary
// ---------------------------------------------------------------------------

/// What a state machine did with a stream fed in the given chunks.
#[derive(Debug, PartialEq)]
struct Fed<E> {
    events: Vec<E>,
    sent: Vec<u8>,
    detail: String,
}

/// Feeds `stream` to a fresh invitee in chunks cut at `cuts`, at `T0`,
/// accepting the prompt as soon as it shows.
fn feed_invitee(directory: &Dir, stream: &[u8], cuts: &[usize]) -> Fed<InviteeEvent> {
    let mut m = fresh_invitee::<DEFAULT_BUFFER>();
    let mut sent = Vec::new();
    let mut events = Vec::new();
    let mut decisions = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain([stream.len()].iter()) {
        m.handle_input(T0, &stream[from..to], directory);
        from = to;
        drain(&mut m, &mut sent);
        for e in drain_events(&mut m) {
            if let InviteeEvent::Prompt(_) = e {
                decisions.push(m.handle_decision(T0, Decision::accept("Sure").unwrap()));
                drain(&mut m, &mut sent);
            }
            events.push(e);
        }
    }
    events.extend(drain_events(&mut m));
    let detail = format!(
        "{decisions:?} {:?} {:?} {:?} {}",
        m.invitation(),
        m.inviter(),
        m.poll_timeout(),
        m.is_finished()
    );
    Fed {
        events,
        sent,
        detail,
    }
}

/// Feeds `stream` to a fresh inviter (after its Hello) in chunks cut at
/// `cuts`, at `T0`.
fn feed_inviter(stream: &[u8], cuts: &[usize]) -> Fed<InviterEvent> {
    let mut m = fresh_inviter();
    let mut sent = Vec::new();
    drain(&mut m, &mut sent);
    let mut events = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain([stream.len()].iter()) {
        m.handle_input(T0, &stream[from..to], &());
        from = to;
        drain(&mut m, &mut sent);
        events.extend(drain_events(&mut m));
    }
    let detail = format!(
        "{:?} {:?} {:?} {}",
        m.answer_message(),
        m.responder(),
        m.poll_timeout(),
        m.is_finished()
    );
    Fed {
        events,
        sent,
        detail,
    }
}

/// Feeds the accepted exchange's Hello and Invite to the invitee cut in
/// two at every boundary in `cuts` (and, with `bytewise`, one byte at a
/// time): the same events and bytes as unsplit.
fn invitee_split(cuts: Range<usize>, bytewise: bool) {
    let rec = accepted_recording();
    let dir = trusting();
    let stream = &rec.honest.sent[0];
    let whole = feed_invitee(&dir, stream, &[]);
    // The unsplit run is the recorded exchange.
    assert_eq!(whole.sent, rec.honest.sent[1]);
    assert_eq!(&whole.events[..], &rec.honest.invitee_events[..]);
    let boundaries = cuts.start.max(1)..cuts.end.min(stream.len());
    assert!(
        !boundaries.is_empty(),
        "no boundary of {cuts:?} in {} bytes",
        stream.len()
    );
    for cut in boundaries {
        assert_eq!(feed_invitee(&dir, stream, &[cut]), whole, "cut at {cut}");
    }
    if bytewise {
        let all: Vec<usize> = (1..stream.len()).collect();
        assert!(all.len() > 1);
        assert_eq!(feed_invitee(&dir, stream, &all), whole, "byte by byte");
    }
}

/// The same for the inviter and the Proof and Answer.
fn inviter_split(cuts: Range<usize>, bytewise: bool) {
    let rec = accepted_recording();
    let stream = &rec.honest.sent[1];
    let whole = feed_inviter(stream, &[]);
    assert_eq!(whole.sent, rec.honest.sent[0]);
    assert_eq!(&whole.events[..], &rec.honest.inviter_events[..]);
    let boundaries = cuts.start.max(1)..cuts.end.min(stream.len());
    assert!(
        !boundaries.is_empty(),
        "no boundary of {cuts:?} in {} bytes",
        stream.len()
    );
    for cut in boundaries {
        assert_eq!(feed_inviter(stream, &[cut]), whole, "cut at {cut}");
    }
    if bytewise {
        let all: Vec<usize> = (1..stream.len()).collect();
        assert!(all.len() > 1);
        assert_eq!(feed_inviter(stream, &all), whole, "byte by byte");
    }
}

// Each run does the whole handshake's cryptography, so the boundaries are
// shared between tests that can run in parallel.
#[test]
fn the_invitee_does_the_same_whatever_the_chunking_part_1() {
    invitee_split(0..100, true);
}

#[test]
fn the_invitee_does_the_same_whatever_the_chunking_part_2() {
    invitee_split(100..usize::MAX, false);
}

#[test]
fn the_inviter_does_the_same_whatever_the_chunking_part_1() {
    inviter_split(0..90, true);
}

#[test]
fn the_inviter_does_the_same_whatever_the_chunking_part_2() {
    inviter_split(90..usize::MAX, false);
}

#[test]
fn a_refusal_in_clear_is_the_same_whatever_the_chunking() {
    let rec = record(closed());
    let dir = closed();
    for (stream, way) in [(&rec.honest.sent[0], 0), (&rec.honest.sent[1], 1)] {
        let all: Vec<usize> = (1..stream.len()).collect();
        let mut splits: Vec<Vec<usize>> = (1..stream.len()).map(|c| vec![c]).collect();
        // At least two cuts, so that one byte at a time is not a single cut.
        assert!(all.len() > 1, "a {}-byte stream", stream.len());
        splits.push(all);
        if way == 0 {
            let whole = feed_invitee(&dir, stream, &[]);
            assert_eq!(whole.sent, rec.honest.sent[1]);
            for cuts in &splits {
                assert_eq!(feed_invitee(&dir, stream, cuts), whole, "{cuts:?}");
            }
        } else {
            let whole = feed_inviter(stream, &[]);
            assert_eq!(&whole.events[..], &rec.honest.inviter_events[..]);
            for cuts in &splits {
                assert_eq!(feed_inviter(stream, cuts), whole, "{cuts:?}");
            }
        }
    }
}
