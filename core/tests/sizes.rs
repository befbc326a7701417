//! Sizes: the memory budget of each state machine, which is all the RAM a
//! session needs (the core allocates nothing), and the bytes an accepted
//! exchange puts on the wire.
//!
//! `cargo test -p beckon-core --test sizes -- --nocapture` prints tables
//! ready to paste into the README.

use beckon_core::wire::buffer_size;
use beckon_core::{
    Config, Decision, EphemeralSecret, Invitation, Invitee, InviteeEvent, Inviter, InviterEvent,
    Machine, Message, Response, Target,
};
use beckon_testkit::{alice, bob, bobs_directory, whole_frames, CHESS};
use embassy_time::Instant;

/// The firmware-sized buffer: 512 bytes of application data.
const SMALL: usize = buffer_size(512);

const KIB: usize = 1024;
/// Budget with the default 16 KiB data limit, per state machine.
const DEFAULT_BUDGET: usize = 40 * KIB;
/// Budget with a 512-byte data limit, per state machine.
const SMALL_BUDGET: usize = 4 * KIB;

struct Row {
    name: &'static str,
    limit: &'static str,
    size: usize,
    budget: usize,
}

#[test]
fn each_state_machine_fits_its_memory_budget() {
    let rows = [
        Row {
            name: "Inviter",
            limit: "16 KiB (default)",
            size: core::mem::size_of::<Inviter>(),
            budget: DEFAULT_BUDGET,
        },
        Row {
            name: "Invitee",
            limit: "16 KiB (default)",
            size: core::mem::size_of::<Invitee>(),
            budget: DEFAULT_BUDGET,
        },
        Row {
            name: "Inviter<{ buffer_size(512) }>",
            limit: "512 bytes",
            size: core::mem::size_of::<Inviter<SMALL>>(),
            budget: SMALL_BUDGET,
        },
        Row {
            name: "Invitee<{ buffer_size(512) }>",
            limit: "512 bytes",
            size: core::mem::size_of::<Invitee<SMALL>>(),
            budget: SMALL_BUDGET,
        },
    ];

    // Print everything first, so a failure still shows the whole table.
    println!();
    println!("| State machine | Data limit | `size_of` | Budget |");
    println!("|---|---|---:|---:|");
    for r in &rows {
        println!(
            "| `{}` | {} | {} bytes ({:.1} KiB) | {} KiB |",
            r.name,
            r.limit,
            r.size,
            r.size as f64 / KIB as f64,
            r.budget / KIB
        );
    }
    println!();

    let over: Vec<String> = rows
        .iter()
        .filter(|r| r.size > r.budget)
        .map(|r| format!("{} is {} bytes, over {} bytes", r.name, r.size, r.budget))
        .collect();
    assert!(over.is_empty(), "over budget: {}", over.join("; "));
}

#[test]
fn the_buffer_is_most_of_the_size() {
    // A sanity check on the measurement: shrinking the data limit from
    // 16 KiB to 512 bytes shrinks each machine by about the difference.
    let saved = 16 * KIB - 512;
    for (big, small) in [
        (
            core::mem::size_of::<Inviter>(),
            core::mem::size_of::<Inviter<SMALL>>(),
        ),
        (
            core::mem::size_of::<Invitee>(),
            core::mem::size_of::<Invitee<SMALL>>(),
        ),
    ] {
        assert!(big - small >= saved, "{big} - {small} < {saved}");
    }
}

/// The bytes of an accepted exchange with an empty invitation (no message,
/// no data) and an empty answer message: Hello + Proof + Invite + Answer.
/// The README quotes this figure.
const EMPTY_ACCEPTED_EXCHANGE_BYTES: usize = 338;

#[test]
fn an_accepted_exchange_with_an_empty_invitation_costs_338_bytes_on_the_wire() {
    let (alice, bob) = (alice(), bob());
    let directory = bobs_directory();

    let now = Instant::from_secs(0);
    let invitation = Invitation::new(CHESS, "", b"").unwrap();
    let mut inviter: Inviter = Inviter::new(
        Config::default(),
        &alice,
        Target::Contact(bob.public_key()),
        &invitation,
        EphemeralSecret::from_bytes([0xE1; 32]),
        now,
    )
    .unwrap();
    let mut invitee: Invitee = Invitee::new(
        Config::default(),
        &bob,
        EphemeralSecret::from_bytes([0xE2; 32]),
        now,
    )
    .unwrap();

    // Every frame that crosses, as (who sent it, its length).
    let mut frames: Vec<(&str, usize)> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pump = |inviter: &mut Inviter, invitee: &mut Invitee, frames: &mut Vec<_>| loop {
        let n = inviter.poll_transmit(&mut buf);
        record(&buf[..n], "inviter", frames);
        invitee.handle_input(now, &buf[..n], &directory);
        let m = invitee.poll_transmit(&mut buf);
        record(&buf[..m], "invitee", frames);
        inviter.handle_input(now, &buf[..m], &());
        if n == 0 && m == 0 {
            break;
        }
    };
    pump(&mut inviter, &mut invitee, &mut frames);
    assert!(matches!(
        invitee.poll_event(),
        Some(InviteeEvent::Prompt(_))
    ));
    invitee
        .handle_decision(
            now,
            Decision::Accept {
                message: Message::EMPTY,
            },
        )
        .unwrap();
    pump(&mut inviter, &mut invitee, &mut frames);
    assert_eq!(
        inviter.poll_event(),
        Some(InviterEvent::Verified(bob.public_key()))
    );
    assert_eq!(
        inviter.poll_event(),
        Some(InviterEvent::Finished(Ok(Response::Accepted)))
    );

    let names = ["Hello", "Proof", "Invite", "Answer"];
    assert_eq!(frames.len(), names.len(), "{frames:?}");
    println!();
    println!("| Frame | From | Bytes |");
    println!("|---|---|---:|");
    for (name, (from, len)) in names.iter().zip(&frames) {
        println!("| {name} | {from} | {len} |");
    }
    let total: usize = frames.iter().map(|(_, len)| len).sum();
    println!("| **Total** | | **{total}** |");
    println!();
    assert_eq!(total, EMPTY_ACCEPTED_EXCHANGE_BYTES);
}

/// Notes the length of each frame in a chunk of transmitted bytes (whole
/// frames).
fn record<'a>(bytes: &[u8], from: &'a str, frames: &mut Vec<(&'a str, usize)>) {
    frames.extend(whole_frames(bytes).iter().map(|f| (from, f.len())));
}
