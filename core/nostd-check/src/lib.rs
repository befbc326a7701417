//! The no_std proof for `beckon-core`.
//!
//! This static library has no `std`, no allocator and no `alloc`, and runs
//! one complete invitation in memory through [`beckon_nostd_check_exchange`]
//! so that the core's handshake, codec and both state machines are really
//! linked, not just type-checked. If `beckon-core` or any of its
//! dependencies used `alloc`, linking this staticlib would fail for want of
//! a `#[global_allocator]`; if they used `std`, it would not build for
//! `thumbv7em-none-eabihf` at all.

#![no_std]
#![deny(unsafe_code)]

use beckon_core::wire::buffer_size;
use beckon_core::{
    ApplicationId, Config, Contact, Decision, EphemeralSecret, FixedDirectory, Identity,
    Invitation, Invitee, InviteeEvent, InviteeOutcome, Inviter, InviterEvent, Machine, Policy,
    Response, Target,
};
use core::hint::black_box;
use embassy_time::{Duration, Instant};

/// The data limit of this firmware-sized build: 512 bytes.
const BUF: usize = buffer_size(512);

/// Both sides accepted the exchange and agree on it.
pub const STATUS_ACCEPTED: i32 = 0;
/// Building the directory, the invitation or a state machine failed.
pub const STATUS_SETUP_FAILED: i32 = 1;
/// The invitee never prompted its user.
pub const STATUS_NO_PROMPT: i32 = 2;
/// The invitee refused the user's decision.
pub const STATUS_DECISION_FAILED: i32 = 3;
/// The inviter did not end with an authenticated Accepted from the contact.
pub const STATUS_INVITER_DISAGREES: i32 = 4;
/// The invitee did not end with Accepted for the inviter's key.
pub const STATUS_INVITEE_DISAGREES: i32 = 5;
/// The invitation or the answer arrived different from what was sent.
pub const STATUS_CONTENT_MISMATCH: i32 = 6;
/// Bytes kept flowing past any sane number of rounds.
pub const STATUS_STALLED: i32 = 7;

/// The application invited to (a fixed UUID).
const CHESS: ApplicationId = ApplicationId::from_bytes([
    0x67, 0xe5, 0x50, 0x44, 0x10, 0xb1, 0x42, 0x6f, 0x92, 0x47, 0xbb, 0x68, 0x0e, 0x5f, 0xe0, 0xc8,
]);

/// Runs one complete exchange in memory, Alice inviting her contact Bob,
/// who accepts; both roles with 512-byte data buffers and fixed identities
/// and ephemerals. Returns [`STATUS_ACCEPTED`] (0) when both sides end with
/// Accepted and agree on who, what and the answer's message; another
/// `STATUS_*` code otherwise.
// `no_mangle` counts as unsafe code (a symbol clash is undefined
// behaviour); it is the one way to give C a stable name.
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn beckon_nostd_check_exchange() -> i32 {
    match exchange() {
        Ok(()) => STATUS_ACCEPTED,
        Err(code) => code,
    }
}

fn exchange() -> Result<(), i32> {
    // black_box keeps the optimiser from treating the keys as constants.
    let alice = Identity::from_seed(&black_box([0xA1; 32]));
    let bob = Identity::from_seed(&black_box([0xB0; 32]));
    let setup = |_| STATUS_SETUP_FAILED;

    let mut directory = FixedDirectory::<2, 1, 16>::new(Policy::TrustedOnly);
    directory
        .add_contact(Contact::new(alice.public_key(), "alice", "Alice").map_err(setup)?)
        .map_err(setup)?;
    directory.register(CHESS, "Chess").map_err(setup)?;

    let mut now = Instant::from_secs(1);
    let invitation = Invitation::new(CHESS, "A game?", b"board=standard").map_err(setup)?;
    let mut inviter = Inviter::<BUF>::new_sized(
        Config::default(),
        &alice,
        Target::Contact(bob.public_key()),
        &invitation,
        EphemeralSecret::from_bytes(black_box([0xE1; 32])),
        now,
    )
    .map_err(setup)?;
    let mut invitee = Invitee::<BUF>::new_sized(
        Config::default(),
        &bob,
        EphemeralSecret::from_bytes(black_box([0xE2; 32])),
        now,
    )
    .map_err(setup)?;

    // Moves bytes both ways, through a small buffer so frames cross in
    // pieces, until neither side has anything to send.
    let pump = |inviter: &mut Inviter<BUF>, invitee: &mut Invitee<BUF>, now| {
        let mut buf = [0u8; 96];
        for _ in 0..256 {
            let n = inviter.poll_transmit(&mut buf);
            invitee.handle_input(now, buf.get(..n).unwrap_or(&[]), &directory);
            let m = invitee.poll_transmit(&mut buf);
            inviter.handle_input(now, buf.get(..m).unwrap_or(&[]), &());
            if n == 0 && m == 0 {
                return Ok(());
            }
        }
        Err(STATUS_STALLED)
    };
    pump(&mut inviter, &mut invitee, now)?;

    let Some(InviteeEvent::Prompt(prompt)) = invitee.poll_event() else {
        return Err(STATUS_NO_PROMPT);
    };
    let received = invitee.invitation().ok_or(STATUS_NO_PROMPT)?;
    if prompt.inviter != alice.public_key()
        || !prompt.is_contact
        || received.application() != CHESS
        || received.message() != "A game?"
        || received.data() != b"board=standard"
    {
        return Err(STATUS_CONTENT_MISMATCH);
    }

    now += Duration::from_secs(3);
    let accept = Decision::accept("Sure").map_err(|_| STATUS_DECISION_FAILED)?;
    invitee
        .handle_decision(now, accept)
        .map_err(|_| STATUS_DECISION_FAILED)?;
    pump(&mut inviter, &mut invitee, now)?;

    match invitee.poll_event() {
        Some(InviteeEvent::Finished(InviteeOutcome::Accepted(launch)))
            if launch.inviter == alice.public_key() && launch.application == CHESS => {}
        _ => return Err(STATUS_INVITEE_DISAGREES),
    }
    if inviter.poll_event() != Some(InviterEvent::Verified(bob.public_key()))
        || inviter.poll_event() != Some(InviterEvent::Finished(Ok(Response::Accepted)))
        || !inviter.is_finished()
        || !invitee.is_finished()
    {
        return Err(STATUS_INVITER_DISAGREES);
    }
    if inviter.answer_message() != Ok("Sure") {
        return Err(STATUS_CONTENT_MISMATCH);
    }
    Ok(())
}

/// On a panic there is nothing to unwind to and nobody to tell: stop here.
/// (The core is written never to panic; this handler only has to exist.)
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
