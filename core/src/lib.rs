//! # beckon-core
//!
//! The protocol core of Beckon: one peer invites a trusted contact into a
//! shared activity, proves who it is talking to, and gets the contact's
//! answer — accepted, declined, expired, or an error. It rebuilds the
//! behaviour of Windows' `PeerCollabInviteContact` for microcontrollers and
//! desktops alike.
//!
//! **What this crate is not.** It does no networking, reads no clock and
//! draws no random numbers. It is a pair of pure state machines: bytes,
//! time ([`embassy_time::Instant`]) and randomness
//! ([`EphemeralSecret`]) go in; bytes to send, deadlines and events come
//! out. It is `#![no_std]`, allocates nothing, and contains no `unsafe`.
//! The adapters (`beckon-tokio`, `beckon-embassy`) bind it to sockets.
//!
//! ## The two roles
//!
//! * An [`Inviter`] sends one [`Invitation`] to a [`Target`]: a contact
//!   whose key the responder must prove, or any endpoint (whose key is then
//!   reported). It ends with the answer ([`Response`]) or a
//!   [`SessionError`].
//! * An [`Invitee`] serves one incoming connection: it proves its identity,
//!   checks the inviter against its [`Directory`] (policy, trusted
//!   contacts, blocked contacts, registered applications), prompts the user
//!   with a deadline, and sends the answer.
//!
//! ## The call contract
//!
//! Both roles implement one trait, [`Machine`], with the same signatures,
//! so one loop drives either. Inputs are `handle_*` calls (bytes received
//! with the role's context, a timeout, a close; the inviter's cancel, the
//! invitee's decision and eviction). After each input,
//! [`poll_output`](Machine::poll_output) gives the bytes to send, then the
//! events, then when to call `handle_timeout` ([`Output`]): the order of
//! the contract is the order of its answers. Every time-dependent call
//! takes `now`. Bytes may arrive in any chunking.
//!
//! ## A complete exchange, driven by hand
//!
//! ```
//! use beckon_core::*;
//! use embassy_time::{Duration, Instant};
//!
//! let alice = Identity::from_seed(&[1; 32]);
//! let bob = Identity::from_seed(&[2; 32]);
//! let chess: ApplicationId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse()?;
//!
//! // Bob trusts Alice and has chess registered.
//! let mut directory = FixedDirectory::<4>::new(Policy::TrustedOnly);
//! directory.add_contact(Contact::new(alice.public_key(), "alice", "Alice")?)?;
//! directory.register(chess, "Chess")?;
//!
//! let now = Instant::from_secs(0);
//! let invitation = Invitation::new(chess, "A game?", b"board=standard")?;
//! let mut inviter = Inviter::new(
//!     Config::default(), &alice, Target::Contact(bob.public_key()),
//!     &invitation, EphemeralSecret::from_bytes([3; 32]), now)?;
//! let mut invitee = Invitee::new(
//!     Config::default(), &bob, EphemeralSecret::from_bytes([4; 32]), now)?;
//!
//! // Move bytes both ways until neither side has anything to send.
//! let mut buf = [0u8; 4096];
//! let mut pump = |inviter: &mut Inviter, invitee: &mut Invitee| loop {
//!     let n = inviter.poll_transmit(&mut buf);
//!     invitee.handle_input(now, &buf[..n], &directory);
//!     let m = invitee.poll_transmit(&mut buf);
//!     inviter.handle_input(now, &buf[..m], &());
//!     if n == 0 && m == 0 { break }
//! };
//! pump(&mut inviter, &mut invitee);
//!
//! // Bob is asked, and accepts.
//! let Some(InviteeEvent::Prompt(prompt)) = invitee.poll_event() else { panic!() };
//! assert_eq!(prompt.inviter, alice.public_key());
//! assert_eq!(invitee.invitation().unwrap().message(), "A game?");
//! invitee.handle_decision(now + Duration::from_secs(3), Decision::accept("Sure")?)?;
//! pump(&mut inviter, &mut invitee);
//!
//! assert_eq!(inviter.poll_event(), Some(InviterEvent::Verified(bob.public_key())));
//! assert_eq!(inviter.poll_event(), Some(InviterEvent::Finished(Ok(Response::Accepted))));
//! assert_eq!(inviter.answer_message()?, "Sure");
//! # Ok::<(), beckon_core::Error>(())
//! ```
//!
//! The wire format, the handshake, the timers and the security properties
//! are specified in `docs/protocol.md`, which is normative.

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo
    )
)]

#[cfg(test)]
extern crate std;

mod channel;
mod config;
mod directory;
mod error;
mod handshake;
mod identity;
mod invitation;
mod invitee;
mod inviter;
pub mod limits;
mod machine;
mod timers;
pub mod wire;

pub use config::Config;
pub use directory::{Contact, Directory, Facts, FixedDirectory, Permission, Policy, Registration};
pub use error::{ArgumentError, Error, KeyError, ProtocolError, Refusal, SessionError};
pub use handshake::EphemeralSecret;
pub use identity::{Fingerprint, Identity, OpenSshLine, PublicKey};
pub use invitation::{ApplicationId, Decision, Invitation, Message, Response};
pub use invitee::{Invitee, InviteeEvent, InviteeOutcome, Launch, Prompt};
pub use inviter::{Inviter, InviterEvent, Target};
pub use machine::{Machine, Output};

/// What only fuzzers, test vectors and tests need: the framing, the
/// payload encodings and the handshake's constants.
///
/// **Not part of the stable interface.** Anything here may change in any
/// release, as rustls's `internal` module and quinn's `cfg(fuzzing)` items
/// may; `docs/protocol.md` is the stable description of these bytes.
#[doc(hidden)]
pub mod internal {
    /// Framing (`docs/protocol.md` §4) and frame sizes.
    pub mod frame {
        pub use crate::wire::frame::*;
    }
    /// The postcard payloads inside frames (§5).
    pub mod payload {
        pub use crate::wire::payload::*;
    }
    /// The handshake's constants (§6, §7).
    pub mod handshake {
        pub use crate::handshake::noise::{HandshakeHash, HASH_LEN, PROTOCOL_NAME};
        pub use crate::handshake::{INVITEE_LABEL, INVITER_LABEL, PROLOGUE_PREFIX};
    }
}
