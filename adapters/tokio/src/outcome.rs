//! What an invitation ends with: the authenticated answer, or why there is
//! none.

use std::fmt;
use std::io;

use beckon_core::{Error, PublicKey, Response, SessionError};

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

/// Why an invitation has no answer.
#[derive(Debug)]
pub enum InviteError {
    /// The TCP connection could not be made (refused, unreachable, or not
    /// within the handshake timeout).
    Connect(io::Error),
    /// The connection failed with an I/O error during the exchange.
    Io(io::Error),
    /// The invitation could not start: an argument or the config is
    /// invalid (data over the buffer's limit, a zero timeout). Nothing was
    /// sent.
    Invalid(Error),
    /// The exchange ended without an answer. `responder` is the key the
    /// responder proved, if it got that far: it says who answered on a
    /// [`SessionError::ContactMismatch`], and who refused on an authenticated
    /// [`SessionError::Refused`].
    Failed {
        /// Why, as the core reports it.
        error: SessionError,
        /// Who answered, if the responder proved its key.
        responder: Option<PublicKey>,
    },
}

impl InviteError {
    /// The key the responder proved, if it got that far.
    pub fn responder(&self) -> Option<PublicKey> {
        match self {
            InviteError::Failed { responder, .. } => *responder,
            _ => None,
        }
    }

    /// How the core's session ended, for [`InviteError::Failed`].
    pub fn core_error(&self) -> Option<SessionError> {
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
            InviteError::Invalid(e) => fmt::Display::fmt(e, f),
            InviteError::Failed {
                error: SessionError::ContactMismatch,
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
            InviteError::Invalid(e) => Some(e),
            InviteError::Failed { error, .. } => Some(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_core::Identity;

    #[test]
    fn a_contact_mismatch_says_who_answered() {
        let carol = Identity::from_seed(&[3; 32]).public_key();
        let e = InviteError::Failed {
            error: SessionError::ContactMismatch,
            responder: Some(carol),
        };
        assert!(e.to_string().contains(&carol.fingerprint().to_string()));
        assert_eq!(e.responder(), Some(carol));
    }
}
