//! `invitee`: one invitee, three ways. *Alone*: an arbitrary sequence of
//! inputs (byte chunks, timeouts at arbitrary instants, decisions, closes,
//! directory changes, partial transmits). *Network*: a real exchange with an
//! honest inviter through a network that drops, duplicates, reorders,
//! mutates, inserts and replays frames. *Adversary*: a peer that completes a
//! genuine Noise channel and seals any Invite, Cancel or bytes, with any key
//! and signature (it can sign only as its own identity). The properties are
//! in the shared harness, `beckon_testkit::fuzz` (`tests/kit/src/fuzz/`);
//! `cargo fuzz fmt invitee <file>` prints an input.
#![no_main]

use beckon_testkit::fuzz::{run_invitee_input, InviteeInput};

libfuzzer_sys::fuzz_target!(|input: InviteeInput| run_invitee_input(&input));
