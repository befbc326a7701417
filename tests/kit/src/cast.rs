//! The cast of the tests: the application they invite to, the people who
//! invite and answer, and the directories the answering side reads.

use std::sync::OnceLock;

use beckon_core::{ApplicationId, Contact, FixedDirectory, Identity, Policy, PublicKey};

/// The chess application, `67e55044-10b1-426f-9247-bb680e5fe0c8`.
pub const CHESS: ApplicationId = ApplicationId::from_bytes([
    0x67, 0xe5, 0x50, 0x44, 0x10, 0xb1, 0x42, 0x6f, 0x92, 0x47, 0xbb, 0x68, 0x0e, 0x5f, 0xe0, 0xc8,
]);

/// Alice's secret seed: she invites.
pub const ALICE_SEED: [u8; 32] = [0xA1; 32];
/// Bob's secret seed: he answers.
pub const BOB_SEED: [u8; 32] = [0xB0; 32];
/// Carol's secret seed: a third party, a stranger to Bob.
pub const CAROL_SEED: [u8; 32] = [0xC0; 32];

/// Alice's identity (from [`ALICE_SEED`]).
pub fn alice() -> Identity {
    Identity::from_seed(&ALICE_SEED)
}

/// Bob's identity (from [`BOB_SEED`]).
pub fn bob() -> Identity {
    Identity::from_seed(&BOB_SEED)
}

/// Carol's identity (from [`CAROL_SEED`]).
pub fn carol() -> Identity {
    Identity::from_seed(&CAROL_SEED)
}

/// The three identities and their keys, derived once for tests that need
/// them again and again (see [`cast()`]).
pub struct Cast {
    /// Alice ([`alice`]).
    pub alice: Identity,
    /// Bob ([`bob`]).
    pub bob: Identity,
    /// Carol ([`carol`]).
    pub carol: Identity,
    /// Alice's key.
    pub alice_key: PublicKey,
    /// Bob's key.
    pub bob_key: PublicKey,
    /// Carol's key.
    pub carol_key: PublicKey,
}

/// The [`Cast`], derived on first use.
pub fn cast() -> &'static Cast {
    static CAST: OnceLock<Cast> = OnceLock::new();
    CAST.get_or_init(|| Cast {
        alice_key: alice().public_key(),
        bob_key: bob().public_key(),
        carol_key: carol().public_key(),
        alice: alice(),
        bob: bob(),
        carol: carol(),
    })
}

/// The tests' directory: room for eight contacts and eight applications.
pub type Dir = FixedDirectory<8, 8>;

/// A directory with `policy`, chess registered, and `contacts`, each a
/// contact under its nickname (and the nickname capitalised as its
/// display name), allowed.
///
/// # Panics
///
/// If there are more than eight contacts, or a nickname is not valid.
pub fn directory(policy: Policy, contacts: &[(&Identity, &str)]) -> Dir {
    let mut dir = Dir::new(policy);
    for (identity, nickname) in contacts {
        let display: String = nickname
            .chars()
            .take(1)
            .flat_map(char::to_uppercase)
            .chain(nickname.chars().skip(1))
            .collect();
        dir.add_contact(Contact::new(identity.public_key(), nickname, &display).unwrap())
            .unwrap();
    }
    dir.register(CHESS, "Chess").unwrap();
    dir
}

/// Bob's usual directory: trusted contacts only, Alice a contact
/// (`alice`, "Alice"), chess registered.
pub fn bobs_directory() -> Dir {
    directory(Policy::TrustedOnly, &[(&alice(), "alice")])
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_core::{Directory, Permission};

    #[test]
    fn chess_is_its_uuid() {
        let parsed: ApplicationId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap();
        assert_eq!(CHESS, parsed);
    }

    #[test]
    fn the_cast_are_three_people() {
        let keys = [alice(), bob(), carol()].map(|i| i.public_key());
        assert_ne!(keys[0], keys[1]);
        assert_ne!(keys[1], keys[2]);
        assert_ne!(keys[0], keys[2]);
        assert_eq!(alice().public_key(), keys[0]);
        let cast = cast();
        assert_eq!([cast.alice_key, cast.bob_key, cast.carol_key], keys);
        assert_eq!(cast.bob.public_key(), keys[1]);
    }

    #[test]
    fn bob_trusts_alice_with_chess_and_nobody_else() {
        let dir = bobs_directory();
        assert_eq!(dir.policy(), Policy::TrustedOnly);
        let alice = dir.contact(&alice().public_key()).unwrap();
        assert_eq!(alice.nickname(), "alice");
        assert_eq!(alice.display_name(), "Alice");
        assert_eq!(alice.permission(), Permission::Allowed);
        assert!(dir.contact(&carol().public_key()).is_none());
        assert!(dir.facts(&carol().public_key(), &CHESS).registered);
    }
}
