//! Errors, the reasons a session ends, and refusals.
//!
//! Two families, kept apart so that each `match` is about one thing:
//!
//! * [`Error`]: a call was refused and nothing changed (a bad argument, a
//!   full capacity, a call not valid now, bad key text).
//! * [`SessionError`]: why a session ended without an answer. It is part
//!   of the session's outcome, never the result of a call.
//!
//! Each variant says which code of the Windows Peer Collaboration API it
//! corresponds to ([`Error::reference_code`],
//! [`SessionError::reference_code`]), so users of `PeerCollabInviteContact`
//! find the failure they already know.
//!
//! A [`Refusal`] is the invitee's *policy* saying no (invitations off, not a
//! trusted contact, ...). It reaches the inviter as
//! [`SessionError::Refused`], which also says whether the refusal was
//! authenticated.

use core::fmt;

/// Why a call was refused. Nothing was changed.
///
/// The mapping to the reference's codes is given per variant; see also the
/// table in `docs/protocol.md` §9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// An argument is invalid: too long, empty where it may not be, or
    /// malformed. Reference: `E_INVALIDARG`.
    InvalidArgument(ArgumentError),
    /// A fixed capacity is full (the directory, the registrations).
    /// Reference: `E_OUTOFMEMORY`.
    CapacityFull,
    /// A key or fingerprint in text is malformed or weak. Reference:
    /// `PEER_E_INVALID_PEER_NAME`.
    InvalidKey(KeyError),
    /// No such contact. Reference: `PEER_E_CONTACT_NOT_FOUND`.
    ContactNotFound,
    /// No such application registration. Reference: `PEER_E_NOT_FOUND`.
    NotFound,
    /// No answer has come yet. Reference:
    /// `PEER_E_INVITE_RESPONSE_NOT_AVAILABLE`.
    ResponseNotAvailable,
    /// The call is not valid in the current state (for example a decision
    /// with no invitation pending). Reference: `E_INVALIDARG`.
    InvalidState,
    /// The user's decision came at or after the answer deadline; the
    /// invitation had already expired (and Expired was sent). Reference:
    /// `PEER_E_TIMEOUT`.
    Expired,
    /// The user's decision came after the inviter cancelled. Reference:
    /// `PEER_E_INVITE_CANCELLED`.
    Cancelled,
}

/// Why a session ended without an answer: the error half of the inviter's
/// [`Finished`](crate::InviterEvent::Finished) and of the invitee's
/// [`InviteeOutcome::Failed`](crate::InviteeOutcome::Failed).
///
/// Exhaustive on purpose: a new way for a session to end is a breaking
/// change, so that no adapter's `match` silently files it under a
/// catch-all arm. The mapping to the reference's codes is given per
/// variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SessionError {
    /// The inviter received no answer within the response timeout plus the
    /// grace period. Reference: `PEER_E_TIMEOUT`.
    Timeout,
    /// The handshake did not complete within the handshake timeout.
    /// Reference: `PEER_E_CONNECTION_FAILED`.
    HandshakeTimeout,
    /// The invitation was cancelled. Reference: `PEER_E_INVITE_CANCELLED`.
    Cancelled,
    /// In "invite a contact" mode, the responder proved a key that is not the
    /// contact's. The invitation was not sent. The responder's key is
    /// available from `Inviter::responder`. Reference:
    /// `PEER_E_CONNECTION_FAILED` ("the connection will fail if the specific
    /// contact is not present on the endpoint").
    ContactMismatch,
    /// The invitee's policy refused the invitation. `authenticated` is true
    /// when the refusal came inside the encrypted channel from the verified
    /// responder, false when it came in clear before the handshake (and so
    /// could have been forged by anyone on the path). Reference:
    /// `PEER_E_CONNECTION_FAILED` for invitations off and busy; the
    /// reference declines an unregistered application.
    Refused {
        /// Why the invitee refused.
        reason: Refusal,
        /// Whether the refusal was proven to come from the responder.
        authenticated: bool,
    },
    /// The peer speaks a protocol version this build does not. Reference:
    /// `PEER_E_UNSUPPORTED_VERSION`.
    UnsupportedVersion {
        /// The version the peer offered or supports.
        peer: u8,
    },
    /// The peer sent bytes that break the protocol: malformed, forged,
    /// replayed, reflected or out of order. Reference:
    /// `PEER_E_CONNECTION_FAILED`.
    Protocol(ProtocolError),
    /// The connection closed before the exchange finished. Reference:
    /// `PEER_E_CONNECTION_FAILED`.
    ConnectionClosed,
    /// While the invitation was pending, nothing came from the peer for the
    /// idle timeout, not even a keepalive: its host crashed, or the path to
    /// it is gone, without the connection saying so. Reference:
    /// `PEER_E_CONNECTION_FAILED`.
    PeerSilent,
    /// This side could not lay out or seal a message of its own (a buffer
    /// too small for it, a nonce exhausted on sending). Never the peer's
    /// fault; seeing it is a bug. Reference: `E_UNEXPECTED`.
    Internal,
}

/// What is wrong with an argument ([`Error::InvalidArgument`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ArgumentError {
    /// A message or name has more than 255 characters, or more bytes than
    /// the configured capacity.
    TooLong,
    /// The application data is longer than this build's data limit.
    DataTooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// A name is empty.
    Empty,
    /// The contact is already in the directory (same key).
    DuplicateKey,
    /// Another contact already has this nickname.
    DuplicateName,
    /// The application is already registered.
    DuplicateApplication,
    /// An application id is not a UUID.
    InvalidUuid,
    /// A duration or limit is out of range (zero, or too large).
    OutOfRange,
}

/// What is wrong with a key in text or bytes ([`Error::InvalidKey`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KeyError {
    /// The line is empty.
    Empty,
    /// The key type is not `ssh-ed25519` (for example `ssh-rsa`, or a
    /// certificate type).
    UnsupportedKeyType,
    /// The line has a key type but no base64 key data.
    MissingKeyData,
    /// The key data is not valid base64.
    InvalidBase64,
    /// The decoded key blob is not `string "ssh-ed25519", string key[32]`.
    MalformedBlob,
    /// The key type inside the blob differs from the one before it.
    KeyTypeMismatch,
    /// The 32 bytes are not a valid Ed25519 point encoding.
    InvalidPoint,
    /// The key is a small-order ("weak") Ed25519 key, refused because a
    /// signature under it proves nothing.
    WeakKey,
    /// A fingerprint is not `SHA256:` followed by 43 base64 characters.
    InvalidFingerprint,
}

/// What the peer did wrong ([`SessionError::Protocol`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame's length field is zero or larger than what may come now.
    FrameLength,
    /// A frame of a kind that is not valid at this point of the exchange.
    UnexpectedFrame,
    /// A frame's body does not decode (wrong size, bad postcard, trailing
    /// bytes, invalid UTF-8, unknown enum tag).
    Malformed,
    /// A field is longer than the protocol allows (message over 255
    /// characters, data over the limit).
    FieldTooLong,
    /// An encrypted message failed authentication: tampered, replayed from
    /// another session, or reflected.
    Decrypt,
    /// An identity signature over the handshake hash is invalid.
    BadSignature,
    /// A key on the wire is not a valid or is a weak Ed25519 key.
    BadKey,
    /// The peer's ephemeral key is a low-order point (the Diffie-Hellman
    /// result is all zeros).
    LowOrderPoint,
    /// A Noise nonce would exceed its maximum.
    NonceExhausted,
    /// The invitee refused the Invite as too large, naming a length other
    /// than the one sent: the length prefix was altered in transit.
    LengthTampered,
}

/// Why an invitee refused an invitation, as both sides report it.
///
/// Which of these travel sealed and which in clear, and their wire tags,
/// are in `docs/protocol.md` §5.4 and §9.2; the clear ones are
/// [`ClearRefusal`](crate::wire::ClearRefusal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Refusal {
    /// The invitee accepts invitations from trusted contacts only, and the
    /// inviter is not one of them.
    NotTrusted,
    /// The inviter is a contact that the invitee has blocked.
    Blocked,
    /// No application with this id is registered on the invitee (the
    /// reference declines these automatically).
    ApplicationNotRegistered,
    /// The invitee has turned invitations off.
    InvitationsOff,
    /// The invitee is at its limit of handshakes or pending prompts.
    Busy,
    /// The invitation is larger than the invitee's data limit.
    TooLarge,
}

impl From<ArgumentError> for Error {
    fn from(e: ArgumentError) -> Self {
        Error::InvalidArgument(e)
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Error::InvalidKey(e)
    }
}

impl From<ProtocolError> for SessionError {
    fn from(e: ProtocolError) -> Self {
        SessionError::Protocol(e)
    }
}

impl Error {
    /// The name of the reference's code that this error corresponds to, for
    /// logs and for users who know the Windows API.
    pub const fn reference_code(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) | Error::InvalidState => "E_INVALIDARG",
            Error::CapacityFull => "E_OUTOFMEMORY",
            Error::InvalidKey(_) => "PEER_E_INVALID_PEER_NAME",
            Error::ContactNotFound => "PEER_E_CONTACT_NOT_FOUND",
            Error::NotFound => "PEER_E_NOT_FOUND",
            Error::ResponseNotAvailable => "PEER_E_INVITE_RESPONSE_NOT_AVAILABLE",
            Error::Expired => "PEER_E_TIMEOUT",
            Error::Cancelled => "PEER_E_INVITE_CANCELLED",
        }
    }
}

impl SessionError {
    /// The name of the reference's code that this ending corresponds to,
    /// for logs and for users who know the Windows API.
    pub const fn reference_code(&self) -> &'static str {
        match self {
            SessionError::Timeout => "PEER_E_TIMEOUT",
            SessionError::Cancelled => "PEER_E_INVITE_CANCELLED",
            SessionError::UnsupportedVersion { .. } => "PEER_E_UNSUPPORTED_VERSION",
            SessionError::Internal => "E_UNEXPECTED",
            SessionError::HandshakeTimeout
            | SessionError::ContactMismatch
            | SessionError::Refused { .. }
            | SessionError::Protocol(_)
            | SessionError::ConnectionClosed
            | SessionError::PeerSilent => "PEER_E_CONNECTION_FAILED",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument(e) => write!(f, "invalid argument: {e}"),
            Error::CapacityFull => f.write_str("capacity full"),
            Error::InvalidKey(e) => write!(f, "invalid key: {e}"),
            Error::ContactNotFound => f.write_str("no such contact"),
            Error::NotFound => f.write_str("not found"),
            Error::ResponseNotAvailable => f.write_str("no answer yet"),
            Error::InvalidState => f.write_str("not valid in the current state"),
            Error::Expired => f.write_str("the invitation expired before the decision"),
            Error::Cancelled => f.write_str("the invitation was cancelled"),
        }
    }
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Timeout => f.write_str("no answer within the response timeout"),
            SessionError::HandshakeTimeout => f.write_str("handshake timed out"),
            SessionError::Cancelled => f.write_str("the invitation was cancelled"),
            SessionError::ContactMismatch => {
                f.write_str("the responder is not the contact that was invited")
            }
            SessionError::Refused {
                reason,
                authenticated,
            } => {
                let how = if *authenticated {
                    "authenticated"
                } else {
                    "unauthenticated"
                };
                write!(f, "refused ({how}): {reason}")
            }
            SessionError::UnsupportedVersion { peer } => {
                write!(f, "unsupported protocol version {peer}")
            }
            SessionError::Protocol(e) => write!(f, "protocol error: {e}"),
            SessionError::ConnectionClosed => f.write_str("connection closed"),
            SessionError::PeerSilent => f.write_str(
                "the peer went silent: nothing, not even a keepalive, within the idle timeout",
            ),
            SessionError::Internal => {
                f.write_str("internal error: this side could not send its own message")
            }
        }
    }
}

impl fmt::Display for ArgumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgumentError::TooLong => f.write_str("longer than 255 characters"),
            ArgumentError::DataTooLong { max } => {
                write!(f, "application data longer than {max} bytes")
            }
            ArgumentError::Empty => f.write_str("empty"),
            ArgumentError::DuplicateKey => f.write_str("a contact with this key exists"),
            ArgumentError::DuplicateName => f.write_str("a contact with this name exists"),
            ArgumentError::DuplicateApplication => f.write_str("application already registered"),
            ArgumentError::InvalidUuid => f.write_str("not a UUID"),
            ArgumentError::OutOfRange => f.write_str("out of range"),
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyError::Empty => "empty key text",
            KeyError::UnsupportedKeyType => "key type is not ssh-ed25519",
            KeyError::MissingKeyData => "missing base64 key data after the key type",
            KeyError::InvalidBase64 => "key data is not valid base64",
            KeyError::MalformedBlob => "key data is not an ssh-ed25519 public key blob",
            KeyError::KeyTypeMismatch => "key type inside the key data differs from the line",
            KeyError::InvalidPoint => "not a valid Ed25519 public key",
            KeyError::WeakKey => "weak (small-order) Ed25519 key",
            KeyError::InvalidFingerprint => "fingerprint is not SHA256: and 43 base64 characters",
        })
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolError::FrameLength => "frame length out of range",
            ProtocolError::UnexpectedFrame => "unexpected frame",
            ProtocolError::Malformed => "malformed message",
            ProtocolError::FieldTooLong => "field longer than the protocol allows",
            ProtocolError::Decrypt => "message failed authentication",
            ProtocolError::BadSignature => "invalid identity signature",
            ProtocolError::BadKey => "invalid or weak identity key",
            ProtocolError::LowOrderPoint => "low-order ephemeral key",
            ProtocolError::NonceExhausted => "nonce exhausted",
            ProtocolError::LengthTampered => "the Invite's length was altered in transit",
        })
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::NotTrusted => "the inviter is not a trusted contact",
            Refusal::Blocked => "the inviter is blocked",
            Refusal::ApplicationNotRegistered => "the application is not registered",
            Refusal::InvitationsOff => "invitations are turned off",
            Refusal::Busy => "the invitee is busy",
            Refusal::TooLarge => "the invitation is too large for the invitee",
        })
    }
}

impl core::error::Error for Error {}
impl core::error::Error for SessionError {}
impl core::error::Error for ArgumentError {}
impl core::error::Error for KeyError {}
impl core::error::Error for ProtocolError {}
