//! The fuzz harness: the inputs, drivers and properties of every fuzz
//! target of the cargo-fuzz crate in `fuzz/` but `directory_file` (whose
//! harness is `adapters/desktop/tests/fuzz_harness_store/mod.rs`), shared
//! by two users:
//!
//! * the cargo-fuzz crate in `fuzz/`, whose targets call one function of
//!   this module each;
//! * beckon-core's `tests/fuzz_corpus.rs`, which replays the checked-in
//!   corpus (`fuzz/corpus/<target>/*`) through the very same functions on
//!   the stable toolchain, so `cargo test --workspace` runs them too, and
//!   writes the seeds from the input types.
//!
//! Built with the kit's cargo feature `fuzz` only.
//!
//! It uses `beckon_core`'s public API, the rest of the kit (the cast,
//! chess, frame splitting, the drain loops and the snow-built adversary),
//! `embassy_time`, `arbitrary` and `std`. Every target function takes the
//! raw fuzz input, never fails, and panics (an assertion) when a property
//! does not hold:
//!
//! | function | input | what it drives |
//! |---|---|---|
//! | [`frame_decoder`] | raw bytes | both state machines' input path, chunked and whole, and every payload decoder |
//! | [`payload_roundtrip`] | raw bytes | every payload decoder: decode, re-encode, decode |
//! | [`inviter`] | [`InviterInput`] | an inviter alone; a real exchange through a hostile network; or against an adversary inside a genuine channel |
//! | [`invitee`] | [`InviteeInput`] | the same for an invitee |
//! | [`key_text`] | raw bytes | the `ssh-ed25519` line, fingerprint and UUID parsers |
//!
//! The properties, checked after every call:
//!
//! * no panic (and, in the fuzz build, no overflow: debug assertions are on);
//! * `poll_transmit` never writes more than the buffer it is given; the
//!   total a side ever transmits is within the protocol's bound, and is a
//!   sequence of well-formed frames of the kinds its role may send;
//! * `poll_event`: at most one `Finished`, nothing after it, `Verified` /
//!   `Prompt` at most once and before it; `outcome()` agrees;
//! * `poll_timeout` is `None` exactly when the session is over, and else
//!   strictly after the last call's `now` (a deadline at `now` fires in that
//!   call); while a prompt is up it is never after the prompt's deadline
//!   (keepalives and the idle timeout come sooner); driving the
//!   deadlines always ends a session;
//! * nothing of the invitation leaves the inviter before the responder is
//!   verified; a verified responder is the target contact;
//! * the decision API: `handle_decision` succeeds exactly when a prompt is
//!   up (after the deadlines at `now`) and the message fits, ends the
//!   session with the matching outcome, and otherwise fails with the
//!   documented error, changing nothing;
//! * **an answer (Accepted, Declined, Expired, Error) is never reported
//!   without a valid handshake from the expected key.** The fuzzer cannot
//!   sign, so every Proof or Invite that passes must be a replay of one an
//!   honest peer made with the harness's fixed keys: the oracles
//!   (`check_inviter_against_honest_responder`,
//!   `check_invitee_against_honest_inviter`) find that honest peer and
//!   re-run it, and the frames must match it byte for byte; in the network
//!   variant the honest peer's own outcome must match. In the adversary
//!   variant (`snow` on the other end of a genuine channel, signing only as
//!   its own identity, Mallory) a key is taken exactly when the adversary
//!   made a valid signature of Mallory's (both ways: a valid Invite sealed
//!   under the right nonce, within the limits, to an invitee waiting for
//!   it, is taken, and the policy decides it), and an answer or invitation
//!   reported is exactly the plaintext it sealed;
//! * **completeness over an untouched network**: when the network variant
//!   delivered every frame whole, once and in order, let no time pass
//!   while a frame was in flight, skipped no deadline and closed nothing
//!   (see [`Interference`]), the exchange ends as the two honest sides and
//!   their users' actions call for: Bob's end decides Alice's (his answer,
//!   his refusal, his acknowledgement of her Cancel), and either fails
//!   only where Alice walked away (a contact mismatch, a cancel before the
//!   Invite left), never by a protocol error, silence or a timeout.
//!
//! Fixed keys: the machines under test use ephemerals from short fixed
//! lists, so that seeds recorded from real exchanges replay into
//! post-handshake states. The network and adversary variants use other
//! ephemerals than the recorded seeds, so no recorded frame can be replayed
//! into them.
//!
//! This file holds the target functions and the drivers of the lone
//! machines, and re-exports what its users name: the target functions,
//! the drivers `fuzz_corpus.rs` checks the runs of, and the input types it
//! builds seeds from. The rest, by concern, in private modules:
//!
//! * `fixtures`: the fixed identities (the kit's cast, and Mallory),
//!   ephemerals, applications, start instant and buffer sizes;
//! * `inputs`: the input types, what each stands for, and [`decode`];
//! * `frames`: a stream cut at its length prefixes (by the kit);
//! * `watchers`: `Watch`, for either role, which makes every call into a
//!   machine under test and checks it after each;
//! * `oracles`: the verdicts the machines must give, the honest peers
//!   re-run, and the differential properties;
//! * `network`: the network variant ([`run_network_any`]);
//! * `adversary`: the adversary variant ([`run_fake_invitee`],
//!   [`run_fake_inviter`]);
//! * `payloads`: the payload round-trip property (`decode_every_payload`).

mod adversary;
mod fixtures;
mod frames;
mod inputs;
mod network;
mod oracles;
mod payloads;
mod watchers;

// What the users name, and nothing more: the cargo-fuzz targets, the
// target functions and their two input types; `fuzz_corpus.rs`, besides,
// the drivers whose runs it checks, the fixtures its seeds are made with,
// and every input type.
pub use adversary::{
    run_fake_invitee, run_fake_invitee_run, run_fake_inviter, run_fake_inviter_run,
};
pub use fixtures::{
    keys, Keys, RECORDED_INVITEE_EPHEMERALS, RECORDED_INVITER_EPHEMERALS, SMALL, T0,
};
pub use inputs::{
    decode, AnswerSpec, AppSpec, Chunk, ConfigSpec, ContactSpec, DataSpec, DecisionSpec, Dir,
    DirSpec, FakeInviteeOp, FakeInviteeScript, FakeInviterOp, FakeInviterScript, InvitationSpec,
    InviteSpec, InviteeInput, InviteeOp, InviteeScript, InviterInput, InviterOp, InviterPlain,
    InviterScript, KeySpec, Mutation, NetOp, NetScript, PolicySpec, ProofSpec, SigSpec, TargetSpec,
    Text, Way, When,
};
pub use network::{run_network_any, Interference, NetRun};
pub use payloads::STRICT_CANONICAL;
pub use watchers::Run;

use arbitrary::Arbitrary;
use beckon_core::internal::frame::{FrameKind, HEADER_LEN};
use beckon_core::*;

use fixtures::{ephemeral, pick, LARGE};
use frames::split_frames;
use inputs::Clock;
use oracles::{
    check_invitee_against_honest_inviter, check_inviter_against_honest_responder, new_invitee,
    new_inviter, recorded_hello, same_runs,
};
use payloads::decode_every_payload;
use watchers::Watch;

/// What a lone inviter's run produced ([`run_inviter_alone`]).
pub type InviterRun = Run<InviterEvent>;
/// What a lone invitee's run produced ([`run_invitee_alone`]).
pub type InviteeRun = Run<InviteeEvent>;

// ---------------------------------------------------------------------------
// The inviter alone
// ---------------------------------------------------------------------------

/// Runs a lone inviter through `script`; `None` when `new` refused it (as
/// it must).
pub fn run_inviter_alone<const B: usize>(script: &InviterScript) -> Option<InviterRun> {
    let invitation = script.invitation.make()?;
    let (mut m, mut w) = new_inviter::<B>(
        &script.config.config(),
        script.target.target(),
        &invitation,
        ephemeral(&RECORDED_INVITER_EPHEMERALS, script.ephemeral),
    )?;
    let mut clock = Clock::new();
    w.settle(&mut m, !script.lazy);
    for op in &script.ops {
        match op {
            InviterOp::Input(when, chunk) => {
                w.timed(&mut m, &mut clock, *when, |w, m, now| {
                    w.input(m, now, &chunk.0, &());
                });
            }
            InviterOp::Timeout(when) => w.timed(&mut m, &mut clock, *when, Watch::timeout),
            InviterOp::Cancel(when) => w.timed(&mut m, &mut clock, *when, Watch::cancel),
            InviterOp::Close(when) => w.timed(&mut m, &mut clock, *when, Watch::close),
            InviterOp::Transmit(cap) => {
                w.transmit(&mut m, usize::from(*cap));
            }
        }
        w.settle(&mut m, !script.lazy);
    }
    w.run_out(&mut m, &mut clock);
    let hello = recorded_hello(usize::from(script.ephemeral) % RECORDED_INVITER_EPHEMERALS.len());
    check_inviter_against_honest_responder(&m, &w, hello, &invitation);
    Some(w.into_run())
}

// ---------------------------------------------------------------------------
// The invitee alone
// ---------------------------------------------------------------------------

/// Runs a lone invitee through `script`; `None` when `new` refused it (as
/// it must).
pub fn run_invitee_alone<const B: usize>(script: &InviteeScript) -> Option<InviteeRun> {
    let k = keys();
    let (mut m, mut w) = new_invitee::<B>(
        &script.config.config(),
        ephemeral(&RECORDED_INVITEE_EPHEMERALS, script.ephemeral),
        vec![k.alice_pk, k.carol_pk],
    )?;
    let mut dir = script.directory.build();
    let mut clock = Clock::new();
    w.check(&mut m, true);
    for op in &script.ops {
        match op {
            InviteeOp::Input(when, chunk) => {
                w.timed(&mut m, &mut clock, *when, |w, m, now| {
                    w.input(m, now, &chunk.0, &dir);
                });
            }
            InviteeOp::Timeout(when) => w.timed(&mut m, &mut clock, *when, Watch::timeout),
            InviteeOp::Decide(when, d) => {
                w.timed(&mut m, &mut clock, *when, |w, m, now| w.decide(m, now, d));
            }
            InviteeOp::Close(when) => w.timed(&mut m, &mut clock, *when, Watch::close),
            InviteeOp::Transmit(cap) => {
                w.transmit(&mut m, usize::from(*cap));
            }
            InviteeOp::Directory(spec) => dir = spec.build(),
        }
        w.settle(&mut m, !script.lazy);
    }
    w.run_out(&mut m, &mut clock);
    check_invitee_against_honest_inviter(
        &m,
        &w,
        pick(&RECORDED_INVITEE_EPHEMERALS, script.ephemeral),
    );
    Some(w.into_run())
}

// ---------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------

/// The `inviter` target.
pub fn inviter(data: &[u8]) {
    run_decoded(data, run_inviter_input);
}

/// The `invitee` target.
pub fn invitee(data: &[u8]) {
    run_decoded(data, run_invitee_input);
}

/// Decodes `data` the way `fuzz_target!` does and, if it decodes, runs
/// `run` on it.
fn run_decoded<'a, T: Arbitrary<'a>>(data: &'a [u8], run: fn(&T)) {
    if let Some(input) = decode::<T>(data) {
        run(&input);
    }
}

/// The `inviter` target on an input already decoded (what the cargo-fuzz
/// target calls). Every run checks the properties as it goes: what it
/// returns is not needed here.
pub fn run_inviter_input(input: &InviterInput) {
    match input {
        InviterInput::Alone(script) if script.small => _ = run_inviter_alone::<SMALL>(script),
        InviterInput::Alone(script) => _ = run_inviter_alone::<LARGE>(script),
        InviterInput::Network(script) => _ = run_network_any(script),
        InviterInput::Adversary(script) => _ = run_fake_invitee(script),
    }
}

/// The `invitee` target on an input already decoded (what the cargo-fuzz
/// target calls), as [`run_inviter_input`] is the `inviter` target's.
pub fn run_invitee_input(input: &InviteeInput) {
    match input {
        InviteeInput::Alone(script) if script.small => _ = run_invitee_alone::<SMALL>(script),
        InviteeInput::Alone(script) => _ = run_invitee_alone::<LARGE>(script),
        InviteeInput::Network(script) => _ = run_network_any(script),
        InviteeInput::Adversary(script) if script.small => {
            _ = run_fake_inviter::<SMALL>(script);
        }
        InviteeInput::Adversary(script) => _ = run_fake_inviter::<LARGE>(script),
    }
}

/// Cuts `stream` into chunks of pseudo-random sizes from `seed` (0: one
/// chunk).
fn chunks(stream: &[u8], seed: u16) -> Vec<Chunk> {
    if seed == 0 {
        return vec![Chunk(stream.to_vec())];
    }
    let max = 1 + usize::from(seed >> 8);
    let mut state = u32::from(seed);
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = (1 + (state >> 16) as usize % max).min(rest.len());
        let (a, b) = rest.split_at(n);
        out.push(Chunk(a.to_vec()));
        rest = b;
    }
    out
}

/// The `frame_decoder` target. Input: a mode byte, a 2-byte chunking seed,
/// then the stream. The stream goes, in chunks, into an invitee and into an
/// inviter, and the result must be the same as in one piece; every payload
/// decoder reads the stream and each frame's body.
pub fn frame_decoder(data: &[u8]) {
    frame_decoder_run(data);
}

/// What [`frame_decoder`] made of its input: the mode's choices, how many
/// chunks the stream was cut into, and the chunked runs of each machine.
#[derive(Debug)]
pub struct FrameDecoderRun {
    /// The invitee's directory.
    pub directory: DirSpec,
    /// Whether both machines had the small buffer.
    pub small: bool,
    /// The inviter's target.
    pub target: TargetSpec,
    /// How many chunks the stream was cut into.
    pub chunks: usize,
    /// The invitee's chunked run (`None`: `new` refused it).
    pub invitee: Option<InviteeRun>,
    /// The inviter's chunked run (`None`: `new` refused it).
    pub inviter: Option<InviterRun>,
    /// The runs with the stream in one piece, when it was cut (`chunks`
    /// is then the number of pieces of the chunked runs above).
    pub whole: Option<(Option<InviteeRun>, Option<InviterRun>)>,
}

/// [`frame_decoder`], telling what it ran; `None` for an input too short
/// to hold a mode and a seed.
pub fn frame_decoder_run(data: &[u8]) -> Option<FrameDecoderRun> {
    let (mode, seed, stream) = match data {
        [mode, lo, hi, stream @ ..] => (*mode, u16::from_le_bytes([*lo, *hi]), stream),
        _ => return None,
    };
    let directory = DirSpec {
        policy: match mode % 3 {
            0 => PolicySpec::TrustedOnly,
            1 => PolicySpec::Anyone,
            _ => PolicySpec::Off,
        },
        alice: if mode & 4 == 0 {
            ContactSpec::Allowed
        } else {
            ContactSpec::Absent
        },
        mallory: ContactSpec::Absent,
        chess: true,
    };
    let small = mode & 8 != 0;
    let target = if mode & 16 == 0 {
        TargetSpec::Bob
    } else {
        TargetSpec::AnyEndpoint
    };
    let as_ops = |chunks: Vec<Chunk>| -> Vec<(When, Chunk)> {
        chunks.into_iter().map(|c| (When::Now, c)).collect()
    };
    let chunked = as_ops(chunks(stream, seed));
    let whole = as_ops(chunks(stream, 0));

    let invitee_script = |ops: &[(When, Chunk)]| InviteeScript {
        small,
        config: ConfigSpec::Default,
        directory,
        ephemeral: 0,
        lazy: false,
        ops: ops
            .iter()
            .map(|(w, c)| InviteeOp::Input(*w, c.clone()))
            .collect(),
    };
    let inviter_script = |ops: &[(When, Chunk)]| InviterScript {
        small,
        config: ConfigSpec::Default,
        target,
        invitation: InvitationSpec::chess(),
        ephemeral: 0,
        lazy: false,
        ops: ops
            .iter()
            .map(|(w, c)| InviterOp::Input(*w, c.clone()))
            .collect(),
    };
    // With seed 0 the chunked run is the whole run: no need to do it twice.
    // The events must be the same however the input is cut. The bytes sent
    // too, except that a session ending with an error drops what it had
    // not yet transmitted, and the harness drains between chunks: then the
    // whole run's bytes are a prefix of the chunked run's.
    let differential = seed != 0;
    let both = if small {
        both_alone::<SMALL>
    } else {
        both_alone::<LARGE>
    };
    let (invitee, inviter) = both(&invitee_script(&chunked), &inviter_script(&chunked));
    let whole = differential.then(|| both(&invitee_script(&whole), &inviter_script(&whole)));
    if let Some((y, w)) = &whole {
        same_runs::<Invitee>(invitee.as_ref(), y.as_ref());
        same_runs::<Inviter>(inviter.as_ref(), w.as_ref());
    }
    decode_every_payload(stream);
    for frame in split_frames(stream) {
        decode_every_payload(frame.get(HEADER_LEN..).unwrap_or_default());
    }
    Some(FrameDecoderRun {
        directory,
        small,
        target,
        chunks: chunked.len(),
        invitee,
        inviter,
        whole,
    })
}

/// Both lone machines, with buffers of `B` bytes: the invitee first.
fn both_alone<const B: usize>(
    invitee: &InviteeScript,
    inviter: &InviterScript,
) -> (Option<InviteeRun>, Option<InviterRun>) {
    (
        run_invitee_alone::<B>(invitee),
        run_inviter_alone::<B>(inviter),
    )
}

// ---------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------

/// The `payload_roundtrip` target.
pub fn payload_roundtrip(data: &[u8]) {
    decode_every_payload(data);
    if let Some(&b) = data.first() {
        if let Ok(kind) = FrameKind::from_byte(b) {
            assert_eq!(kind as u8, b, "FrameKind round trip");
        }
    }
}

// ---------------------------------------------------------------------------
// Key text
// ---------------------------------------------------------------------------

/// The `key_text` target: the OpenSSH line, fingerprint and UUID parsers on
/// the input as text; key, seed and id round trips on its first bytes.
pub fn key_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let s: &str = &text;

    let parsed = PublicKey::parse_openssh(s);
    assert_eq!(s.parse::<PublicKey>(), parsed.map(|(key, _)| key));
    match parsed {
        Ok((key, comment)) => {
            check_key_round_trips(&key);
            let line = key.to_openssh(comment).to_string();
            assert_eq!(
                PublicKey::parse_openssh(&line),
                Ok((key, comment)),
                "the printed line {line:?} does not parse back"
            );
            // A 51-byte blob has one base64 form: the input's key data is
            // exactly the printed one.
            let bare = key.to_string();
            let (_, rest) = s.trim().split_at(11);
            let data_field = rest
                .trim()
                .split(|c: char| c.is_ascii_whitespace())
                .next()
                .unwrap_or_default();
            assert_eq!(
                &bare[12..],
                data_field,
                "two texts for one key (non-canonical base64)"
            );
            assert_eq!(comment, comment.trim(), "an untrimmed comment");
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = Error::from(e).to_string();
        }
    }

    match s.parse::<Fingerprint>() {
        Ok(fp) => {
            let printed = fp.to_string();
            assert_eq!(printed.parse::<Fingerprint>(), Ok(fp));
            assert_eq!(
                printed,
                s.trim(),
                "two texts for one fingerprint (non-canonical base64)"
            );
        }
        Err(e) => assert_eq!(e, KeyError::InvalidFingerprint),
    }

    match s.parse::<ApplicationId>() {
        Ok(id) => check_id_round_trips(&id),
        Err(e) => assert_eq!(e, Error::InvalidArgument(ArgumentError::InvalidUuid)),
    }

    // The raw-bytes round trips cost a scalar multiplication or two: only
    // for inputs of exactly 32 bytes, so the text parsers keep their speed.
    if let Ok(first) = <&[u8; 32]>::try_from(data) {
        match PublicKey::from_bytes(first) {
            Ok(key) => {
                assert_eq!(key.as_bytes(), first);
                check_key_round_trips(&key);
            }
            Err(e) => assert!(matches!(e, KeyError::InvalidPoint | KeyError::WeakKey)),
        }
        let identity = Identity::from_seed(first);
        assert_eq!(&*identity.to_seed(), first);
        check_key_round_trips(&identity.public_key());
    }
    if let Some(first) = data.first_chunk::<16>() {
        let id = ApplicationId::from_bytes(*first);
        assert_eq!(id.as_bytes(), first);
        check_id_round_trips(&id);
    }
}

fn check_key_round_trips(key: &PublicKey) {
    assert_eq!(PublicKey::from_bytes(&key.to_bytes()), Ok(*key));
    let bare = key.to_string();
    assert!(bare.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"));
    assert_eq!(bare.len(), 12 + 68);
    assert_eq!(bare.parse::<PublicKey>(), Ok(*key));
    assert_eq!(PublicKey::parse_openssh(&bare), Ok((*key, "")));
    let fp = key.fingerprint();
    let printed = fp.to_string();
    assert!(printed.starts_with("SHA256:") && printed.len() == 7 + 43);
    assert_eq!(printed.parse::<Fingerprint>(), Ok(fp));
    assert_eq!(format!("{fp:?}"), printed);
}

fn check_id_round_trips(id: &ApplicationId) {
    let printed = id.to_string();
    assert_eq!(printed.len(), 36);
    assert!(printed
        .chars()
        .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
    assert_eq!(printed.parse::<ApplicationId>(), Ok(*id));
    let simple: String = printed.chars().filter(|&c| c != '-').collect();
    assert_eq!(simple.parse::<ApplicationId>(), Ok(*id));
    assert_eq!(format!("{{{printed}}}").parse::<ApplicationId>(), Ok(*id));
    assert_eq!(
        format!("urn:uuid:{printed}").parse::<ApplicationId>(),
        Ok(*id)
    );
    assert_eq!(printed.to_uppercase().parse::<ApplicationId>(), Ok(*id));
}
