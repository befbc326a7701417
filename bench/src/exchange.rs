//! Beckon's exchange in memory: both roles, through an accepted answer,
//! bytes moved by hand between an [`Inviter`] and an [`Invitee`].
//!
//! One exchange is: two fresh ephemeral keys from the caller's RNG, a new
//! inviter and a new invitee, Hello → Proof → Invite → (the invitee's user
//! accepts at once) → Answer, and the inviter's `Finished(Ok(Accepted))`.
//! Bytes move in chunks of at most [`CHUNK`] bytes, as from a socket.
//!
//! [`Pair`] is one exchange that can be stepped one flight at a time, so
//! that [`run_concurrent`] can keep N exchanges in flight at once and step
//! them in turn (the scaling measurement). [`exchange`] is the same code
//! with N = 1 on the stack.

use std::fmt;

use beckon_core::{
    ApplicationId, Config, Contact, Decision, EphemeralSecret, Error, FixedDirectory, Identity,
    Invitation, Invitee, InviteeEvent, Inviter, InviterEvent, Machine, Message, Policy, Response,
    SessionError, Target,
};
use embassy_time::Instant;

use crate::BenchRng;

/// The most bytes moved from one side to the other per `handle_input`
/// call, as a socket read would deliver them.
pub const CHUNK: usize = 4096;

/// The application invited to: a fixed UUID.
pub const APP: ApplicationId = ApplicationId::from_bytes([
    0x67, 0xe5, 0x50, 0x44, 0x10, 0xb1, 0x42, 0x6f, 0x92, 0x47, 0xbb, 0x68, 0x0e, 0x5f, 0xe0, 0xc8,
]);

/// Alice's identity seed (the inviter).
pub const ALICE_SEED: [u8; 32] = [0xA1; 32];
/// Bob's identity seed (the invitee).
pub const BOB_SEED: [u8; 32] = [0xB0; 32];

/// What the invitation carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// No message, no data: the exchange every rate is measured with.
    Empty,
    /// A message of 255 characters (the limit), ASCII, no data.
    Message255,
    /// No message, 16 KiB of application data (the limit).
    Data16K,
}

impl Case {
    /// All three, in report order.
    pub const ALL: [Case; 3] = [Case::Empty, Case::Message255, Case::Data16K];

    /// A short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Case::Empty => "empty invitation",
            Case::Message255 => "255-character message",
            Case::Data16K => "16 KiB data",
        }
    }

    /// A key for JSON.
    pub fn key(self) -> &'static str {
        match self {
            Case::Empty => "empty",
            Case::Message255 => "message_255",
            Case::Data16K => "data_16k",
        }
    }
}

/// Everything that stays the same from one exchange to the next: the two
/// identities, the invitee's directory (Alice trusted, the application
/// registered, policy TrustedOnly) and the invitation contents.
pub struct Fixture {
    /// The inviter.
    pub alice: Identity,
    /// The invitee.
    pub bob: Identity,
    /// Bob's directory.
    pub directory: FixedDirectory<4>,
    message_255: String,
    data_16k: Vec<u8>,
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

impl Fixture {
    /// Alice, Bob, and Bob's directory.
    pub fn new() -> Self {
        let alice = Identity::from_seed(&ALICE_SEED);
        let bob = Identity::from_seed(&BOB_SEED);
        let mut directory = FixedDirectory::<4>::new(Policy::TrustedOnly);
        directory
            .add_contact(
                Contact::new(alice.public_key(), "alice", "Alice").expect("a valid contact"),
            )
            .expect("room for one contact");
        directory
            .register(APP, "Chess")
            .expect("room for one application");
        Fixture {
            alice,
            bob,
            directory,
            message_255: "m".repeat(beckon_core::limits::MAX_MESSAGE_CHARS),
            data_16k: (0..beckon_core::limits::MAX_DATA_LEN)
                .map(|i| (i % 251) as u8)
                .collect(),
        }
    }

    /// The invitation of `case`.
    pub fn invitation(&self, case: Case) -> Invitation<'_> {
        let (message, data): (&str, &[u8]) = match case {
            Case::Empty => ("", &[]),
            Case::Message255 => (&self.message_255, &[]),
            Case::Data16K => ("", &self.data_16k),
        };
        Invitation::new(APP, message, data).expect("within the limits")
    }

    /// The plaintext bytes the invitation itself takes (application id,
    /// message, data, with postcard's length prefixes and the message tag),
    /// which is what a TLS request would have to carry for the same job.
    pub fn invitation_plaintext(&self, case: Case) -> Vec<u8> {
        let inv = self.invitation(case);
        let mut out = vec![0u8]; // the Invite tag
        out.extend_from_slice(inv.application().as_bytes());
        push_varint(&mut out, inv.message().len());
        out.extend_from_slice(inv.message().as_bytes());
        push_varint(&mut out, inv.data().len());
        out.extend_from_slice(inv.data());
        out
    }
}

fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Bytes on the wire of one exchange, each direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Wire {
    /// Inviter to invitee.
    pub a_to_b: usize,
    /// Invitee to inviter.
    pub b_to_a: usize,
}

impl Wire {
    /// Both directions.
    pub fn total(&self) -> usize {
        self.a_to_b + self.b_to_a
    }
}

/// Why an exchange did not end with the inviter's authenticated Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeError {
    /// A state machine could not be made.
    Setup(Error),
    /// The inviter's session ended without an answer.
    Session(SessionError),
    /// The inviter got an answer, but not Accepted.
    Answer(Response),
    /// The inviter had no outcome after the most steps an exchange may take.
    Unfinished,
}

impl From<Error> for ExchangeError {
    fn from(e: Error) -> Self {
        ExchangeError::Setup(e)
    }
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::Setup(e) => write!(f, "setting up: {e}"),
            ExchangeError::Session(e) => write!(f, "the session ended: {e}"),
            ExchangeError::Answer(r) => write!(f, "answered {r:?}, not Accepted"),
            ExchangeError::Unfinished => f.write_str("no outcome"),
        }
    }
}

impl std::error::Error for ExchangeError {}

/// One exchange in progress.
pub struct Pair {
    inviter: Inviter,
    invitee: Invitee,
    wire: Wire,
    outcome: Option<Result<Response, SessionError>>,
}

/// The instant every in-memory exchange runs at: the core reads no clock,
/// and nothing here waits.
const NOW: Instant = Instant::from_secs(0);

impl Pair {
    /// A new exchange of `case`, with ephemeral keys from `rng`; the Hello
    /// is ready.
    pub fn new(fx: &Fixture, case: Case, rng: &mut BenchRng) -> Result<Self, ExchangeError> {
        let inviter = Inviter::new(
            Config::default(),
            &fx.alice,
            Target::Contact(fx.bob.public_key()),
            &fx.invitation(case),
            EphemeralSecret::generate(rng),
            NOW,
        )?;
        let invitee = Invitee::new(
            Config::default(),
            &fx.bob,
            EphemeralSecret::generate(rng),
            NOW,
        )?;
        Ok(Pair {
            inviter,
            invitee,
            wire: Wire::default(),
            outcome: None,
        })
    }

    /// One step: everything the inviter has to send goes to the invitee
    /// (whose user accepts any prompt at once), then everything the invitee
    /// has to send goes to the inviter. Returns whether the inviter has its
    /// outcome. An exchange takes two steps.
    pub fn step(&mut self, fx: &Fixture, buf: &mut [u8; CHUNK]) -> bool {
        self.wire.a_to_b += carry(&mut self.inviter, &mut self.invitee, &fx.directory, buf);
        while let Some(event) = self.invitee.poll_event() {
            if let InviteeEvent::Prompt(_) = event {
                // The decision cannot fail with a prompt up; if it did, the
                // outcome check below reports it.
                let accept = Decision::Accept {
                    message: Message::EMPTY,
                };
                let _ = self.invitee.handle_decision(NOW, accept);
            }
        }
        self.wire.b_to_a += carry(&mut self.invitee, &mut self.inviter, &(), buf);
        while let Some(event) = self.inviter.poll_event() {
            if let InviterEvent::Finished(outcome) = event {
                self.outcome = Some(outcome);
            }
        }
        self.outcome.is_some()
    }

    /// The bytes moved, once finished; an error unless the inviter got an
    /// authenticated Accepted.
    pub fn result(&self) -> Result<Wire, ExchangeError> {
        match self.outcome {
            Some(Ok(Response::Accepted)) => Ok(self.wire),
            Some(Ok(other)) => Err(ExchangeError::Answer(other)),
            Some(Err(e)) => Err(ExchangeError::Session(e)),
            None => Err(ExchangeError::Unfinished),
        }
    }
}

/// Moves everything `from` has to send into `to`, in reads of at most
/// [`CHUNK`] bytes, as a socket would; returns how many bytes. The same
/// for both directions: any [`Machine`] to any other.
fn carry<A: Machine, B: Machine>(
    from: &mut A,
    to: &mut B,
    context: &B::Context,
    buf: &mut [u8; CHUNK],
) -> usize {
    let mut moved = 0;
    loop {
        let n = from.poll_transmit(buf);
        if n == 0 {
            return moved;
        }
        moved += n;
        to.handle_input(NOW, &buf[..n], context);
    }
}

/// The most steps an exchange may take before it counts as stuck.
const MAX_STEPS: usize = 8;

/// One whole exchange of `case`, on the stack. Returns the bytes moved.
#[inline(never)]
pub fn exchange(fx: &Fixture, case: Case, rng: &mut BenchRng) -> Result<Wire, ExchangeError> {
    let mut buf = [0u8; CHUNK];
    let mut pair = Pair::new(fx, case, rng)?;
    for _ in 0..MAX_STEPS {
        if pair.step(fx, &mut buf) {
            break;
        }
    }
    pair.result()
}

/// `n` empty exchanges in flight at once, stepped in turn (every pair
/// makes one step before any makes its next) until all have finished.
/// `sessions` is the storage, reused from call to call so that the
/// measurement does not include growing it.
#[inline(never)]
pub fn run_concurrent(
    fx: &Fixture,
    n: usize,
    rng: &mut BenchRng,
    sessions: &mut Vec<Pair>,
) -> Result<(), ExchangeError> {
    sessions.clear();
    for _ in 0..n {
        sessions.push(Pair::new(fx, Case::Empty, rng)?);
    }
    let mut buf = [0u8; CHUNK];
    for _ in 0..MAX_STEPS {
        let mut all_done = true;
        for pair in sessions.iter_mut() {
            if pair.outcome.is_none() {
                all_done &= pair.step(fx, &mut buf);
            }
        }
        if all_done {
            break;
        }
    }
    for pair in sessions.iter() {
        pair.result()?;
    }
    sessions.clear();
    Ok(())
}
