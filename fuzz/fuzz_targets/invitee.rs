//! `invitee`: one invitee, three ways. *Alone*: an arbitrary sequence of
//! inputs (byte chunks, timeouts at arbitrary instants, decisions, closes,
//! directory changes, partial transmits). *Network*: a real exchange with an
//! honest inviter through a network that drops, duplicates, reorders,
//! mutates, inserts and replays frames. *Adversary*: a peer that completes a
//! genuine Noise channel and seals any Invite, Cancel or bytes, with any key
//! and signature (it can sign only as its own identity). The properties are
//! in the shared harness, `core/tests/fuzz_harness/`; `cargo fuzz fmt
//! invitee <file>` prints an input.
#![no_main]

#[path = "../../core/tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|input: harness::InviteeInput| harness::run_invitee_input(&input));
