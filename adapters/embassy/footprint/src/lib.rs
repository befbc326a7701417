//! What both footprint images share: the people, the invitation, one
//! exchange in memory, and the stack measurement.
//!
//! This crate is not part of the workspace and has `unsafe` in one place:
//! painting the stack and reading its high-water mark takes raw memory
//! access between two linker symbols. The libraries it measures stay
//! `#![forbid(unsafe_code)]`.

#![no_std]

use beckon_core::wire::buffer_size;
use beckon_core::{
    ApplicationId, Config, Contact, Decision, EphemeralSecret, FixedDirectory, Identity,
    Invitation, Invitee, InviteeEvent, InviteeOutcome, Inviter, InviterEvent, Machine, Policy,
    Response, Target,
};
use core::hint::black_box;
use cortex_m_semihosting::{debug, hprintln};
use embassy_time::{Duration, Instant};
use static_cell::StaticCell;

pub mod stack;

/// The application-data limit of these images: 512 bytes.
pub const BUF: usize = buffer_size(512);

/// The application invited to (a fixed UUID).
pub const CHESS: ApplicationId = ApplicationId::from_bytes([
    0x67, 0xe5, 0x50, 0x44, 0x10, 0xb1, 0x42, 0x6f, 0x92, 0x47, 0xbb, 0x68, 0x0e, 0x5f, 0xe0, 0xc8,
]);

/// Alice, who invites. `black_box` keeps the optimiser from treating the
/// keys as constants.
pub fn alice() -> Identity {
    Identity::from_seed(&black_box([0xA1; 32]))
}

/// Bob, who is invited.
pub fn bob() -> Identity {
    Identity::from_seed(&black_box([0xB0; 32]))
}

/// A directory as small as a device would keep: Bob trusts Alice and has
/// chess registered.
pub type SmallDirectory = FixedDirectory<2, 1, 16>;

/// Bob's directory.
pub fn bobs_directory(alice: &Identity) -> Result<SmallDirectory, beckon_core::Error> {
    let mut directory = SmallDirectory::new(Policy::TrustedOnly);
    directory.add_contact(Contact::new(alice.public_key(), "alice", "Alice")?)?;
    directory.register(CHESS, "Chess")?;
    Ok(directory)
}

/// Alice's invitation.
pub fn invitation() -> Result<Invitation<'static>, beckon_core::Error> {
    Invitation::new(CHESS, "A game?", b"board=standard")
}

/// Why an exchange did not end as expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Building the directory, the invitation or a state machine failed.
    Setup,
    /// The invitee never prompted.
    NoPrompt,
    /// The invitee refused the decision.
    Decision,
    /// The two sides disagree on how it ended.
    Disagree,
    /// Bytes kept flowing past any sane number of rounds.
    Stalled,
}

impl From<beckon_core::Error> for Failure {
    fn from(_: beckon_core::Error) -> Self {
        Failure::Setup
    }
}

/// The inviter's state machine, in static memory as a firmware keeps it
/// (3.5 KiB at this data limit: too much to keep on an 8 KiB stack beside
/// the invitee's). It is made `idle` in place and started in place, so no
/// 3.5 KiB value ever crosses the stack.
static INVITER: StaticCell<Inviter<BUF>> = StaticCell::new();
/// The invitee's.
static INVITEE: StaticCell<Invitee<BUF>> = StaticCell::new();

/// The identities and Bob's directory, in static memory as a firmware keeps
/// its own.
static PEOPLE: StaticCell<(Identity, Identity, SmallDirectory)> = StaticCell::new();

/// (a): one complete exchange in memory, both roles, no network: Alice
/// invites her contact Bob, who accepts. The state machines, the identities
/// and the directory live in static memory, as in a firmware, and each step
/// runs in its own call, as in a firmware's loop. Call it once.
#[inline(never)]
pub fn exchange_in_memory() -> Result<(), Failure> {
    let (alice, bob, directory) = people()?;
    let mut now = Instant::from_secs(1);
    let inviter = start_inviter(alice, bob, now)?;
    let invitee = start_invitee(bob, now)?;
    pump(inviter, invitee, directory, now)?;

    let Some(InviteeEvent::Prompt(prompt)) = invitee.poll_event() else {
        return Err(Failure::NoPrompt);
    };
    let received = invitee.invitation().ok_or(Failure::NoPrompt)?;
    if prompt.inviter != alice.public_key() || received.data() != b"board=standard" {
        return Err(Failure::Disagree);
    }
    now += Duration::from_secs(3);
    let accept = Decision::accept("Sure").map_err(|_| Failure::Decision)?;
    invitee
        .handle_decision(now, accept)
        .map_err(|_| Failure::Decision)?;
    pump(inviter, invitee, directory, now)?;

    match invitee.poll_event() {
        Some(InviteeEvent::Finished(InviteeOutcome::Accepted(launch)))
            if launch.inviter == alice.public_key() => {}
        _ => return Err(Failure::Disagree),
    }
    if inviter.poll_event() != Some(InviterEvent::Verified(bob.public_key()))
        || inviter.poll_event() != Some(InviterEvent::Finished(Ok(Response::Accepted)))
        || inviter.answer_message() != Ok("Sure")
    {
        return Err(Failure::Disagree);
    }
    Ok(())
}

#[inline(never)]
fn people() -> Result<&'static (Identity, Identity, SmallDirectory), Failure> {
    let (alice, bob) = (alice(), bob());
    let directory = bobs_directory(&alice)?;
    PEOPLE
        .try_init((alice, bob, directory))
        .map(|people| &*people)
        .ok_or(Failure::Setup)
}

#[inline(never)]
fn start_inviter(
    alice: &Identity,
    bob: &Identity,
    now: Instant,
) -> Result<&'static mut Inviter<BUF>, Failure> {
    let invitation = invitation()?;
    let target = Target::Contact(bob.public_key());
    let ephemeral = EphemeralSecret::from_bytes(black_box([0xE1; 32]));
    let inviter = INVITER.try_init_with(Inviter::idle).ok_or(Failure::Setup)?;
    inviter.start(
        Config::default(),
        alice,
        target,
        &invitation,
        ephemeral,
        now,
    )?;
    Ok(inviter)
}

#[inline(never)]
fn start_invitee(bob: &Identity, now: Instant) -> Result<&'static mut Invitee<BUF>, Failure> {
    let ephemeral = EphemeralSecret::from_bytes(black_box([0xE2; 32]));
    let invitee = INVITEE.try_init_with(Invitee::idle).ok_or(Failure::Setup)?;
    invitee.start(Config::default(), bob, ephemeral, now)?;
    Ok(invitee)
}

/// Moves bytes both ways through a small buffer, so frames cross in
/// pieces, until neither side has anything to send.
#[inline(never)]
fn pump(
    inviter: &mut Inviter<BUF>,
    invitee: &mut Invitee<BUF>,
    directory: &SmallDirectory,
    now: Instant,
) -> Result<(), Failure> {
    let mut buf = [0u8; 96];
    for _ in 0..256 {
        let n = inviter.poll_transmit(&mut buf);
        invitee.handle_input(now, buf.get(..n).unwrap_or(&[]), directory);
        let m = invitee.poll_transmit(&mut buf);
        inviter.handle_input(now, buf.get(..m).unwrap_or(&[]), &());
        if n == 0 && m == 0 {
            return Ok(());
        }
    }
    Err(Failure::Stalled)
}

/// Prints the result and the stack's high-water mark through
/// semihosting (read by `ci.sh`), then ends QEMU with the matching status.
pub fn report(image: &str, result: Result<(), Failure>) -> ! {
    let peak = stack::peak();
    match result {
        Ok(()) => hprintln!("{}: exchange ok; peak stack {} bytes", image, peak),
        Err(e) => hprintln!(
            "{}: exchange FAILED: {:?}; peak stack {} bytes",
            image,
            e,
            peak
        ),
    }
    debug::exit(if result.is_ok() {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}

/// A panic ends QEMU with a failure (the libraries are written never to
/// panic; this handler only has to exist).
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
