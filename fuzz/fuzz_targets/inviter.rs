//! `inviter`: one inviter, three ways. *Alone*: an arbitrary sequence of
//! inputs (byte chunks, timeouts at arbitrary instants, cancels, closes,
//! partial transmits). *Network*: a real exchange with an honest invitee
//! through a network that drops, duplicates, reorders, mutates, inserts and
//! replays frames. *Adversary*: a peer that completes a genuine Noise
//! channel, proves any key with any signature (it can sign only as its own
//! identity) and seals any answer. The properties are in the shared
//! harness, `beckon_testkit::fuzz` (`tests/kit/src/fuzz/`); `cargo fuzz
//! fmt inviter <file>` prints an input.
#![no_main]

use beckon_testkit::fuzz::{run_inviter_input, InviterInput};

libfuzzer_sys::fuzz_target!(|input: InviterInput| run_inviter_input(&input));
