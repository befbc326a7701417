//! # beckon-embassy
//!
//! Beckon over [`embassy-net`](embassy_net): invite a contact from a
//! microcontroller, or serve the invitations that come to it. `no_std`, no
//! allocation: every buffer belongs to the caller.
//!
//! **What this crate is not.** It has no protocol logic: that is all in
//! [`beckon_core`], whose state machines it drives. It picks no executor and
//! no time driver: the firmware does (any embassy-time driver; any executor
//! that can poll a future).
//!
//! ## The loop
//!
//! Both roles run one generic loop over the core's
//! [`Machine`](beckon_core::Machine) trait, its call contract, over one
//! [`TcpSocket`](embassy_net::tcp::TcpSocket) per connection:
//!
//! 1. take the core's outputs (`poll_output`) until it waits: its bytes go
//!    straight into the socket's transmit buffer (`poll_output` writes into
//!    it; no copy in between), its events to the role (the invitee's
//!    prompt starts the application's decision);
//! 2. wait, with `embassy_futures::select`, for whichever comes first: bytes
//!    to read, [`Timer::at`](embassy_time::Timer::at) the core's deadline
//!    (the core's instants are `embassy_time::Instant`s, so no conversion),
//!    room to write, a cancel (inviter) or the application's decision
//!    (invitee);
//! 3. feed that back (`handle_input` reads straight out of the socket's
//!    receive buffer, `handle_timeout`, `handle_cancel`,
//!    `handle_decision`, or `handle_close` when the connection ends), and
//!    go round until the core says it is done; then close.
//!
//! ## The calls
//!
//! * [`invite`]: one invitation over an [`InviterSession`], returning the
//!   [`Answer`] or an [`InviteError`]: the core's typed
//!   [`Error`](beckon_core::Error) when the invitation cannot start, its
//!   [`SessionError`](beckon_core::SessionError) when the session ended
//!   without an answer. Cancel it with its `cancel` future, or by dropping
//!   it (best effort, see there).
//! * [`serve`]: the invitee, on a port, through a fixed array of
//!   [`InviteeSession`]s, for ever; the application shows, decides and
//!   launches through [`Decide`]. [`answer`] serves one connection.
//!
//! ## Sizing
//!
//! A session holds a socket on the caller's buffers (a few hundred bytes
//! each are enough: frames stream through them) and one state machine,
//! whose size the `BUF` parameter sets through
//! [`buffer_size`](beckon_core::wire::buffer_size):
//!
//! ```
//! use beckon_core::wire::buffer_size;
//! use beckon_embassy::{InviteeSession, InviterSession};
//!
//! const BUF: usize = buffer_size(512); // 512 bytes of application data
//! assert!(core::mem::size_of::<InviterSession<'static, BUF>>() < 4096);
//! assert!(core::mem::size_of::<InviteeSession<'static, BUF>>() < 4096);
//! ```
//!
//! ## Example
//!
//! ```no_run
//! use beckon_core::{wire::buffer_size, *};
//! use beckon_embassy::{invite, serve, Decide, InviteError, InviteeSession, InviterSession};
//! use embassy_net::{IpEndpoint, Stack};
//!
//! const BUF: usize = buffer_size(512);
//! const PORT: u16 = 4646;
//!
//! /// Accepts everything (a real device would wait for a button).
//! struct Yes;
//! impl Decide for Yes {
//!     async fn decide(&self, _prompt: Prompt) -> Decision<'_> {
//!         // A message is at most 255 characters; `truncated` cannot fail.
//!         Decision::Accept { message: Message::truncated("on my way") }
//!     }
//!     fn launch(&self, launch: &Launch, invitation: &Invitation<'_>) {
//!         // start the activity launch.application with invitation.data()
//!     }
//! }
//!
//! async fn invitee(
//!     stack: Stack<'_>,
//!     me: &Identity,
//!     contacts: &FixedDirectory<4>,
//!     rng: &mut impl rand_core::CryptoRng,
//! ) -> Error {
//!     let (mut rx, mut tx) = ([0; 512], [0; 512]);
//!     let mut sessions = [InviteeSession::<BUF>::new(stack, &mut rx, &mut tx)];
//!     match serve(&mut sessions, PORT, me, contacts, &Yes, rng).await {
//!         Err(e) => e,
//!     }
//! }
//!
//! async fn inviter(
//!     stack: Stack<'_>,
//!     me: &Identity,
//!     friend: PublicKey,
//!     friend_at: IpEndpoint,
//!     rng: &mut impl rand_core::CryptoRng,
//! ) -> Result<Response, InviteError> {
//!     let (mut rx, mut tx) = ([0; 512], [0; 512]);
//!     let mut session = InviterSession::<BUF>::new(stack, &mut rx, &mut tx);
//!     let chess: ApplicationId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse()?;
//!     let invitation = Invitation::new(chess, "A game?", b"board=standard")?;
//!     let never = core::future::pending();
//!     let target = Target::Contact(friend);
//!     let answer = invite(&mut session, friend_at, me, target, &invitation, rng, never).await?;
//!     Ok(answer.response)
//! }
//! ```

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

mod fmt;
mod invite;
mod io;
mod serve;
mod session;

pub use invite::{invite, Answer, InviteError};
pub use serve::{answer, serve, Decide, INVALID_DECISION};
pub use session::{InviteeSession, InviterSession, Session};
