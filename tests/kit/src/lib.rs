//! # beckon-testkit
//!
//! What Beckon's tests repeat, once:
//!
//! * [`cast`](mod@cast): the chess application ([`CHESS`]), Alice, Bob
//!   and Carol ([`alice`], …, or all three derived once: [`cast()`]), and
//!   the directories built from them ([`bobs_directory`], [`directory`]);
//! * [`frames`](mod@frames): the frame kinds, a frame built by hand
//!   ([`frame`]), a real Hello ([`hello`]), and a byte stream split into
//!   frames ([`frames()`], [`whole_frames`]);
//! * [`drain`]: the loops that drain a [`beckon_core::Machine`] of its
//!   output ([`drain_output`], [`transmit_all`], [`drain_events`], …) and
//!   feed it what is due ([`deliver_due`], [`fire_due`]);
//! * [`adversary`]: `snow` playing either end of a genuine Noise channel
//!   with a real state machine, so that anything can be sent inside it;
//! * `fuzz` (with the cargo feature `fuzz`): the fuzz harness, the inputs,
//!   drivers and properties of the cargo-fuzz targets in `fuzz/`, which
//!   beckon-core's `tests/fuzz_corpus.rs` replays over the checked-in
//!   corpus on stable.
//!
//! Test code only (`publish = false`): a dev-dependency of the crates whose
//! tests use it (beckon-core's integration tests among them, which link the
//! same beckon-core; never its unit tests), and a dependency of the
//! simulation's evil peer.

pub mod adversary;
pub mod cast;
pub mod drain;
pub mod frames;
#[cfg(feature = "fuzz")]
pub mod fuzz;

pub use cast::{
    alice, bob, bobs_directory, carol, cast, directory, Cast, Dir, ALICE_SEED, BOB_SEED,
    CAROL_SEED, CHESS,
};
pub use drain::{deliver_due, drain_events, drain_output, fire_due, transmit_all, transmitted};
pub use frames::{frame, frames, hello, kind_of, whole_frames, HELLO, PROOF, REFUSAL, SEALED};
