//! What an invitation ends with — the authenticated answer or why there is
//! none — and the one mapping of both to the `beckon invite` exit codes.

use std::fmt;
use std::io;

use beckon_core::{Error, PublicKey, Response};

/// The exit codes of `beckon invite`, in one place so that the command and
/// its documentation cannot disagree.
///
/// | Code | Meaning |
/// | --- | --- |
/// | 0 | accepted |
/// | 1 | declined (also: the invitee answered with an error code) |
/// | 2 | expired (the invitee's user did not answer in time) or timed out (no answer at all) |
/// | 3 | refused: not trusted, blocked, invitations off, application not registered, busy, too large |
/// | 4 | contact mismatch: someone else answered at the endpoint |
/// | 5 | could not connect, or the connection failed (closed, reset, handshake timeout, protocol error) |
/// | 64 | usage error: an invalid argument |
/// | 70 | internal error |
/// | 130 | cancelled (Ctrl-C) |
pub mod exit {
    /// The invitation was accepted.
    pub const ACCEPTED: i32 = 0;
    /// The invitation was declined, or answered with an error code.
    pub const DECLINED: i32 = 1;
    /// The invitation expired, or no answer came in time.
    pub const EXPIRED: i32 = 2;
    /// The invitee's policy refused the invitation.
    pub const REFUSED: i32 = 3;
    /// The responder is not the contact that was invited.
    pub const CONTACT_MISMATCH: i32 = 4;
    /// No connection, or the connection failed.
    pub const CONNECTION_FAILED: i32 = 5;
    /// Bad usage: an invalid argument (the first of the usage codes).
    pub const USAGE: i32 = 64;
    /// A bug: an operation in a state that does not allow it.
    pub const INTERNAL: i32 = 70;
    /// The invitation was cancelled (128 + SIGINT, as shells report it).
    pub const CANCELLED: i32 = 130;
}

/// The exit code for an answer's response.
pub fn response_exit_code(response: Response) -> i32 {
    match response {
        Response::Accepted => exit::ACCEPTED,
        Response::Declined | Response::Error { .. } => exit::DECLINED,
        Response::Expired => exit::EXPIRED,
    }
}

/// The exit code for the result of [`invite`](crate::invite).
pub fn exit_code(result: &Result<Answer, InviteError>) -> i32 {
    match result {
        Ok(answer) => answer.exit_code(),
        Err(error) => error.exit_code(),
    }
}

/// The invitee's authenticated answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Accepted, declined, expired, or an error code.
    pub response: Response,
    /// The key the responder proved (the contact's in contact mode; whoever
    /// answered when inviting any endpoint).
    pub responder: PublicKey,
    /// The message that came with the answer (empty if none).
    pub message: String,
}

impl Answer {
    /// The `beckon invite` exit code for this answer.
    pub fn exit_code(&self) -> i32 {
        response_exit_code(self.response)
    }
}

/// Why an invitation has no answer.
#[derive(Debug)]
pub enum InviteError {
    /// The TCP connection could not be made (refused, unreachable, or not
    /// within the handshake timeout).
    Connect(io::Error),
    /// The connection failed with an I/O error during the exchange.
    Io(io::Error),
    /// The exchange ended without an answer. `responder` is the key the
    /// responder proved, if it got that far: it says who answered on a
    /// [`Error::ContactMismatch`], and who refused on an authenticated
    /// [`Error::Refused`].
    Failed {
        /// Why, as the core reports it.
        error: Error,
        /// Who answered, if the responder proved its key.
        responder: Option<PublicKey>,
    },
}

impl InviteError {
    /// The `beckon invite` exit code for this error (see [`exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            InviteError::Connect(_) | InviteError::Io(_) => exit::CONNECTION_FAILED,
            InviteError::Failed { error, .. } => match error {
                Error::Timeout | Error::Expired => exit::EXPIRED,
                Error::Refused { .. } => exit::REFUSED,
                Error::ContactMismatch => exit::CONTACT_MISMATCH,
                Error::Cancelled => exit::CANCELLED,
                Error::HandshakeTimeout
                | Error::ConnectionClosed
                | Error::PeerSilent
                | Error::Protocol(_)
                | Error::UnsupportedVersion { .. } => exit::CONNECTION_FAILED,
                Error::InvalidArgument(_)
                | Error::CapacityFull
                | Error::InvalidKey(_)
                | Error::NotFound => exit::USAGE,
                _ => exit::INTERNAL,
            },
        }
    }

    /// The key the responder proved, if it got that far.
    pub fn responder(&self) -> Option<PublicKey> {
        match self {
            InviteError::Failed { responder, .. } => *responder,
            _ => None,
        }
    }

    /// The core's error, for [`InviteError::Failed`].
    pub fn core_error(&self) -> Option<Error> {
        match self {
            InviteError::Failed { error, .. } => Some(*error),
            _ => None,
        }
    }
}

impl fmt::Display for InviteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InviteError::Connect(e) => write!(f, "could not connect: {e}"),
            InviteError::Io(e) => write!(f, "connection failed: {e}"),
            InviteError::Failed {
                error: Error::ContactMismatch,
                responder: Some(key),
            } => write!(
                f,
                "the responder is not the contact that was invited: {} answered",
                key.fingerprint()
            ),
            InviteError::Failed { error, .. } => fmt::Display::fmt(error, f),
        }
    }
}

impl std::error::Error for InviteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InviteError::Connect(e) | InviteError::Io(e) => Some(e),
            InviteError::Failed { error, .. } => Some(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_core::{ArgumentError, Identity, ProtocolError, Refusal};

    fn failed(error: Error) -> InviteError {
        InviteError::Failed {
            error,
            responder: None,
        }
    }

    #[test]
    fn exit_codes_follow_the_documented_table() {
        let key = Identity::from_seed(&[1; 32]).public_key();
        let answer = |response| Answer {
            response,
            responder: key,
            message: String::new(),
        };
        assert_eq!(exit_code(&Ok(answer(Response::Accepted))), 0);
        assert_eq!(exit_code(&Ok(answer(Response::Declined))), 1);
        assert_eq!(exit_code(&Ok(answer(Response::Error { code: 7 }))), 1);
        assert_eq!(exit_code(&Ok(answer(Response::Expired))), 2);
        assert_eq!(failed(Error::Timeout).exit_code(), 2);
        for reason in [
            Refusal::NotTrusted,
            Refusal::Blocked,
            Refusal::InvitationsOff,
            Refusal::ApplicationNotRegistered,
            Refusal::Busy,
        ] {
            for authenticated in [true, false] {
                let e = failed(Error::Refused {
                    reason,
                    authenticated,
                });
                assert_eq!(e.exit_code(), 3);
            }
        }
        assert_eq!(failed(Error::ContactMismatch).exit_code(), 4);
        assert_eq!(
            InviteError::Connect(io::ErrorKind::ConnectionRefused.into()).exit_code(),
            5
        );
        assert_eq!(
            InviteError::Io(io::ErrorKind::BrokenPipe.into()).exit_code(),
            5
        );
        assert_eq!(failed(Error::ConnectionClosed).exit_code(), 5);
        assert_eq!(failed(Error::PeerSilent).exit_code(), 5);
        assert_eq!(failed(Error::HandshakeTimeout).exit_code(), 5);
        assert_eq!(
            failed(Error::Protocol(ProtocolError::Decrypt)).exit_code(),
            5
        );
        assert_eq!(
            failed(Error::InvalidArgument(ArgumentError::TooLong)).exit_code(),
            64
        );
        assert_eq!(failed(Error::Cancelled).exit_code(), 130);
    }

    #[test]
    fn a_contact_mismatch_says_who_answered() {
        let carol = Identity::from_seed(&[3; 32]).public_key();
        let e = InviteError::Failed {
            error: Error::ContactMismatch,
            responder: Some(carol),
        };
        assert!(e.to_string().contains(&carol.fingerprint().to_string()));
        assert_eq!(e.responder(), Some(carol));
    }
}
