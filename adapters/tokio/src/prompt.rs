//! An invitation waiting for the user's answer, as the application sees it.

use std::fmt;
use std::net::SocketAddr;

use beckon_core::{ApplicationId, Decision, Fingerprint, Message, PublicKey, SessionError};
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit};

/// What the application tells a session's task: its choice, the message
/// for the inviter, and where to say whether the answer went out.
#[derive(Debug)]
pub(crate) struct Command {
    pub(crate) choice: Choice,
    pub(crate) message: String,
    pub(crate) reply: oneshot::Sender<Result<(), AnswerError>>,
}

/// How the application answers a prompt, without the message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Choice {
    Accept,
    Decline,
    /// An error code (protocol §9.3).
    Fail(u32),
}

impl Choice {
    /// The core's decision for this choice, with `message`.
    pub(crate) fn decision(self, message: Message<'_>) -> Decision<'_> {
        match self {
            Choice::Accept => Decision::Accept { message },
            Choice::Decline => Decision::Decline { message },
            Choice::Fail(code) => Decision::Error { code, message },
        }
    }
}

/// Why a prompt went away without the user's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawn {
    /// The inviter cancelled.
    Cancelled,
    /// Nobody answered before the deadline; the inviter was told Expired.
    Expired,
    /// The connection was lost or broke the protocol. The core's ending
    /// says which ([`SessionError::ConnectionClosed`] for a lost connection).
    Failed(SessionError),
}

/// Why an answer did not go out as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerError {
    /// The accept's message has more than 255 characters: the invitation
    /// was declined instead, with no message. Reference: `E_INVALIDARG`.
    TooLong,
    /// The prompt was withdrawn first; the inviter has its outcome.
    Withdrawn(Withdrawn),
}

impl AnswerError {
    /// The name of the reference's code this corresponds to, as the core's
    /// errors give theirs.
    pub const fn reference_code(&self) -> &'static str {
        match self {
            AnswerError::TooLong => "E_INVALIDARG",
            AnswerError::Withdrawn(Withdrawn::Expired) => "PEER_E_TIMEOUT",
            AnswerError::Withdrawn(Withdrawn::Cancelled) => "PEER_E_INVITE_CANCELLED",
            AnswerError::Withdrawn(Withdrawn::Failed(e)) => e.reference_code(),
        }
    }
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerError::TooLong => f.write_str("invalid argument: longer than 255 characters"),
            AnswerError::Withdrawn(Withdrawn::Expired) => {
                f.write_str("the invitation expired before the decision")
            }
            AnswerError::Withdrawn(Withdrawn::Cancelled) => {
                f.write_str("the invitation was cancelled")
            }
            AnswerError::Withdrawn(Withdrawn::Failed(e)) => e.fmt(f),
        }
    }
}

impl std::error::Error for AnswerError {}

impl fmt::Display for Withdrawn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Withdrawn::Cancelled => f.write_str("cancelled by the inviter"),
            Withdrawn::Expired => f.write_str("expired"),
            Withdrawn::Failed(SessionError::ConnectionClosed) => f.write_str("connection lost"),
            Withdrawn::Failed(e) => write!(f, "connection failed: {e}"),
        }
    }
}

/// What an accepted invitation launches (the reference's
/// `PEER_APP_LAUNCH_INFO`); `beckon_desktop::launch` starts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchInfo {
    /// The inviter's proven key.
    pub inviter: PublicKey,
    /// Its OpenSSH fingerprint, `SHA256:...`.
    pub fingerprint: String,
    /// The application invited to.
    pub application: ApplicationId,
    /// The invitation's message.
    pub message: String,
    /// The invitation's application data.
    pub data: Vec<u8>,
    /// The inviter's address, as this side saw the connection.
    pub endpoint: SocketAddr,
}

/// An invitation that passed the policy and waits for the user: accept it,
/// decline it, or watch for its withdrawal. It carries its deadline.
///
/// Dropping it without answering declines it (with no message), so no
/// prompt outlives the value that shows it. While it exists, it counts
/// against the listener's `max_prompts`.
///
/// ```no_run
/// # async fn show(mut listener: beckon_tokio::Listener) {
/// while let Some(invitation) = listener.next().await {
///     tokio::select! {
///         // A real prompt reads the user's answer here.
///         () = tokio::time::sleep_until(invitation.deadline) => {}
///         why = invitation.withdrawn() => {
///             println!("withdrawn: {why}");
///             continue;
///         }
///     }
///     match invitation.accept("On my way").await {
///         Ok(info) => println!("launching for {}", info.fingerprint),
///         Err(e) => println!("too late: {e}"),
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct IncomingInvitation {
    /// The inviter's proven key.
    pub inviter: PublicKey,
    /// Whether the inviter is an allowed contact in the directory.
    pub is_contact: bool,
    /// The application invited to (registered: the policy checked it).
    pub application: ApplicationId,
    /// The invitation's message (at most 255 characters).
    pub message: String,
    /// The invitation's application data (at most 16 KiB).
    pub data: Vec<u8>,
    /// When the prompt expires; after it the inviter is told Expired.
    pub deadline: tokio::time::Instant,
    /// The inviter's address.
    pub peer: SocketAddr,
    pub(crate) command: Option<oneshot::Sender<Command>>,
    pub(crate) withdrawn: watch::Receiver<Option<Withdrawn>>,
    pub(crate) _permit: Option<OwnedSemaphorePermit>,
}

impl IncomingInvitation {
    /// The inviter's OpenSSH fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.inviter.fingerprint()
    }

    /// What [`accept`](Self::accept) would return, without answering: for
    /// an application that launches first and accepts only once the
    /// launch worked (answering [`fail`](Self::fail) with a
    /// `Response::ERROR_LAUNCH_*` code when it did not).
    pub fn launch_info(&self) -> LaunchInfo {
        LaunchInfo {
            inviter: self.inviter,
            fingerprint: self.inviter.fingerprint().to_string(),
            application: self.application,
            message: self.message.clone(),
            data: self.data.clone(),
            endpoint: self.peer,
        }
    }

    /// Answers with an error code (the reference's ERROR action; the codes
    /// of protocol §9.3, such as `Response::ERROR_LAUNCH_NOT_FOUND` or
    /// `Response::ERROR_STOPPED`) and a message for the inviter (at most
    /// 255 characters; a longer one is replaced by an empty one). Returns
    /// once the answer is queued for sending.
    ///
    /// # Errors
    ///
    /// As [`try_decline`](Self::try_decline): the withdrawal's error when
    /// the prompt was withdrawn first.
    pub async fn fail(mut self, code: u32, message: &str) -> Result<(), AnswerError> {
        self.answer(Choice::Fail(code), message).await
    }

    /// Accepts the invitation with a message for the inviter (at most 255
    /// characters) and returns what to launch.
    ///
    /// # Errors
    ///
    /// [`AnswerError::Withdrawn`] with what [`withdrawn`](Self::withdrawn)
    /// reports when the prompt went first: [`Withdrawn::Expired`] at or
    /// after the deadline (the inviter was told Expired),
    /// [`Withdrawn::Cancelled`] after the inviter cancelled,
    /// [`Withdrawn::Failed`] when the connection is gone; and
    /// [`AnswerError::TooLong`] for a message over 255 characters, in
    /// which case the invitation is declined.
    pub async fn accept(mut self, message: &str) -> Result<LaunchInfo, AnswerError> {
        // Dropped unanswered, the invitation is declined.
        Message::new(message).map_err(|_| AnswerError::TooLong)?;
        self.answer(Choice::Accept, message).await?;
        Ok(LaunchInfo {
            inviter: self.inviter,
            fingerprint: self.inviter.fingerprint().to_string(),
            application: self.application,
            message: std::mem::take(&mut self.message),
            data: std::mem::take(&mut self.data),
            endpoint: self.peer,
        })
    }

    /// Declines the invitation with a message for the inviter. A message
    /// over 255 characters is replaced by an empty one. When the prompt was
    /// already withdrawn this does nothing: the inviter has its outcome.
    /// Returns once the answer is queued for sending.
    pub async fn decline(self, message: &str) {
        let _ = self.try_decline(message).await;
    }

    /// As [`decline`](Self::decline), saying whether the decline was the
    /// answer (`Ok`) or came too late (the withdrawal's error).
    pub async fn try_decline(mut self, message: &str) -> Result<(), AnswerError> {
        self.answer(Choice::Decline, message).await
    }

    /// Completes when the prompt is withdrawn without an answer: cancelled
    /// by the inviter, expired, or the connection lost. Cancel-safe; use it
    /// in a `select!` next to the user's input.
    pub async fn withdrawn(&self) -> Withdrawn {
        let mut rx = self.withdrawn.clone();
        let withdrawn = match rx.wait_for(Option::is_some).await {
            Ok(w) => *w,
            // The session's task ended without saying why.
            Err(_) => None,
        };
        withdrawn.unwrap_or(Withdrawn::Failed(SessionError::ConnectionClosed))
    }

    /// Whether the prompt has been withdrawn, and why, without waiting.
    pub fn is_withdrawn(&self) -> Option<Withdrawn> {
        *self.withdrawn.borrow()
    }

    /// How long is left until the deadline.
    pub fn time_left(&self) -> std::time::Duration {
        self.deadline
            .saturating_duration_since(tokio::time::Instant::now())
    }

    /// Gives the session's task the answer (`choice`, with `message`),
    /// and waits for whether it went out.
    async fn answer(&mut self, choice: Choice, message: &str) -> Result<(), AnswerError> {
        let (reply, answered) = oneshot::channel();
        self.send(Command {
            choice,
            message: message.to_owned(),
            reply,
        })?;
        answered.await.unwrap_or_else(|_| Err(self.gone()))
    }

    fn send(&mut self, command: Command) -> Result<(), AnswerError> {
        let Some(sender) = self.command.take() else {
            return Err(self.gone());
        };
        sender.send(command).map_err(|_| self.gone())
    }

    /// The error for a session that is no longer there.
    fn gone(&self) -> AnswerError {
        AnswerError::Withdrawn(
            self.is_withdrawn()
                .unwrap_or(Withdrawn::Failed(SessionError::ConnectionClosed)),
        )
    }
}
