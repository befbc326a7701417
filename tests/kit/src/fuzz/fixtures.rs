//! Fixtures: the identities, ephemerals, applications, start instant and
//! buffer sizes of every variant.

use std::sync::OnceLock;

use crate::{alice, bob, carol};
use beckon_core::wire::{buffer_size, DEFAULT_BUFFER};
use beckon_core::*;
use embassy_time::Instant;

// The inviter under test and the honest inviter (Alice), the invitee
// under test and the honest responder (Bob), and another honest peer, a
// responder that is not the target or a stranger that invites (Carol):
// the test kit's cast, whose seeds the recorded seeds were made with.
/// The adversary's own identity: it can sign as Mallory, and only as her.
pub(crate) const MALLORY_SEED: [u8; 32] = [0x3A; 32];

/// Ephemerals of the machines under test in the alone variants, and of the
/// honest peers whose frames the seeds record.
pub const RECORDED_INVITER_EPHEMERALS: [[u8; 32]; 2] = [[0xE1; 32], [0xE3; 32]];
/// See [`RECORDED_INVITER_EPHEMERALS`].
pub const RECORDED_INVITEE_EPHEMERALS: [[u8; 32]; 2] = [[0xE2; 32], [0xE4; 32]];
/// Ephemerals of the adversary (`snow`): never used by an honest peer.
pub(crate) const ADVERSARY_EPHEMERALS: [[u8; 32]; 2] = [[0xAD; 32], [0xAE; 32]];
/// Ephemerals of the network variant: never used to record a seed.
pub(crate) const NETWORK_INVITER_EPHEMERALS: [[u8; 32]; 2] = [[0x51; 32], [0x53; 32]];
/// See [`NETWORK_INVITER_EPHEMERALS`].
pub(crate) const NETWORK_INVITEE_EPHEMERALS: [[u8; 32]; 2] = [[0x52; 32], [0x54; 32]];

/// Chess, the application of the recorded exchanges (the test kit's).
pub(crate) use crate::CHESS;
/// Another application, never registered.
pub(crate) const GO: ApplicationId = ApplicationId::from_bytes([0x60; 16]);

/// When every session starts.
pub const T0: Instant = Instant::from_secs(1_000);

/// The small buffer size the targets also try: 64 bytes of data.
pub const SMALL: usize = buffer_size(64);
/// The default buffer size.
pub(crate) const LARGE: usize = DEFAULT_BUFFER;

/// The buffer a full drain polls with.
pub(crate) const POLL_BUF: usize = 1500;

/// The identities of every variant and their public keys ([`keys`]).
pub struct Keys {
    /// Alice, the inviter under test and the honest inviter.
    pub alice: Identity,
    /// Bob, the invitee under test and the honest responder.
    pub bob: Identity,
    /// Carol, another honest peer.
    pub carol: Identity,
    /// Alice's key.
    pub alice_pk: PublicKey,
    /// Bob's key.
    pub bob_pk: PublicKey,
    /// Carol's key.
    pub carol_pk: PublicKey,
    /// Mallory's key.
    pub mallory_pk: PublicKey,
    /// The adversary's identity: what it signs with.
    pub mallory: Identity,
}

/// The [`Keys`], derived once.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let (alice, bob, carol) = (alice(), bob(), carol());
        let mallory = Identity::from_seed(&MALLORY_SEED);
        Keys {
            alice_pk: alice.public_key(),
            bob_pk: bob.public_key(),
            carol_pk: carol.public_key(),
            mallory_pk: mallory.public_key(),
            mallory,
            alice,
            bob,
            carol,
        }
    })
}

pub(crate) fn pick(list: &[[u8; 32]; 2], index: u8) -> [u8; 32] {
    list[usize::from(index) % list.len()]
}

pub(crate) fn ephemeral(list: &[[u8; 32]; 2], index: u8) -> EphemeralSecret {
    EphemeralSecret::from_bytes(pick(list, index))
}
