//! # beckon-tokio
//!
//! The tokio adapter of Beckon: it binds the sans-IO protocol core
//! ([`beckon_core`]) to tokio streams. It is thin by design — **no protocol
//! logic lives here**. Every decision (what to send, when a timer fires,
//! whether a policy refuses) is the core's; this crate moves bytes, time and
//! decisions in and out.
//!
//! * **One task per connection, one state machine per task.** The loop
//!   drains the core's transmits into the stream, drains its events, then
//!   waits for the first of: bytes read, the stream taking more bytes, the
//!   core's next deadline (`tokio::time::sleep_until`), or an application
//!   command (a cancel, a decision). End of stream or an I/O error is the
//!   core's `handle_close`.
//! * **Time** is tokio's, converted to the core's `embassy_time::Instant` by
//!   a [`Clock`] (an offset from a base instant), so
//!   `tokio::time::pause()` and simulated clocks work: the 5-minute expiry
//!   is tested in milliseconds.
//! * **Streams** are generic (`AsyncRead + AsyncWrite`): TCP in production,
//!   `tokio::io::duplex` in tests, a simulated network later.
//!
//! ## Inviting
//!
//! [`invite`] (over any stream) and [`invite_tcp`] (which connects) are
//! `async fn`s whose future is the handle: drop it, or trigger a
//! [`CancelToken`], to cancel. They return the authenticated [`Answer`] or
//! an [`InviteError`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use beckon_core::{Identity, Invitation, Target};
//! use beckon_tokio::{invite_tcp, InviteOptions, Progress};
//!
//! let alice = Identity::generate(&mut rand::rng());
//! let bob = beckon_core::PublicKey::parse_openssh("ssh-ed25519 AAAA...")?.0;
//! let chess = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse()?;
//! let invitation = Invitation::new(chess, "A game?", b"board=standard")?;
//! let answer = invite_tcp(
//!     "192.0.2.7:7464".parse()?,
//!     &alice,
//!     Target::Contact(bob),
//!     &invitation,
//!     InviteOptions::default(),
//!     |p| if let Progress::Verified { responder } = p {
//!         println!("verified {}", responder.fingerprint());
//!     },
//! )
//! .await?;
//! println!("{:?}: {}", answer.response, answer.message);
//! # Ok(()) }
//! ```
//!
//! ## Listening
//!
//! A [`Listener`] accepts connections in a background task, bounded by
//! [`ListenerConfig`] (64 handshakes, 16 pending prompts by default). A
//! connection beyond the handshake limit evicts a stalled one (the oldest
//! that has not sent its Hello), so a flood of idle or garbage connections
//! cannot keep a real invitation out; an invitation beyond the prompt limit
//! is answered Busy. Invitations that pass the
//! policy arrive from [`Listener::next`] as [`IncomingInvitation`]s, which
//! carry their deadline and are accepted, declined, or watched for
//! withdrawal. An accepted one gives a [`LaunchInfo`]: what to hand the
//! application (launching it is the desktop crate's, `beckon-desktop`).
//!
//! ```no_run
//! # async fn run(bob: beckon_core::Identity,
//! #     directory: std::sync::Arc<beckon_core::FixedDirectory<16>>) -> std::io::Result<()> {
//! use beckon_tokio::{Listener, ListenerConfig};
//!
//! let mut listener = Listener::bind("[::]:7464", bob, directory, ListenerConfig::default())?;
//! while let Some(invitation) = listener.next().await {
//!     if let Ok(info) = invitation.accept("Sure").await {
//!         println!("launch chess for {}", info.fingerprint);
//!     }
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod clock;
mod driver;
mod invite;
mod listen;
mod outcome;
mod prompt;

pub use clock::Clock;

pub use invite::{invite, invite_tcp, CancelToken, InviteOptions, Progress};
pub use listen::{Listener, ListenerConfig, SessionReport, StopHandle};
pub use outcome::{Answer, InviteError};
pub use prompt::{AnswerError, IncomingInvitation, LaunchInfo, Withdrawn};

/// The TCP port `beckon listen` uses by default: 7464, "PING" on a phone
/// keypad.
pub const DEFAULT_PORT: u16 = 7464;
