//! The invitation and the answer, as values the API takes and gives.

use core::fmt;
use core::str::FromStr;

use crate::error::{ArgumentError, Error};
use crate::limits::{chars_within, MAX_DATA_LEN, MAX_MESSAGE_CHARS};

/// The id of a collaborative application: a 16-byte UUID (the reference's
/// GUID), printed and parsed in its usual hyphenated text form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApplicationId([u8; 16]);

impl ApplicationId {
    /// Makes an id from its 16 bytes (big-endian UUID order).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        ApplicationId(bytes)
    }

    /// The 16 bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for ApplicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&uuid::Uuid::from_bytes(self.0).hyphenated(), f)
    }
}

impl fmt::Debug for ApplicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApplicationId({self})")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ApplicationId {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "ApplicationId({=[u8]:02x})", &self.0[..]);
    }
}

/// Parses a UUID (hyphenated, simple, braced or `urn:uuid:` form).
impl FromStr for ApplicationId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::try_parse(s.trim())
            .map(|u| ApplicationId(u.into_bytes()))
            .map_err(|_| Error::InvalidArgument(ArgumentError::InvalidUuid))
    }
}

/// Checks a message (of an invitation or an answer): at most 255
/// characters.
pub(crate) fn check_message(message: &str) -> Result<(), Error> {
    if chars_within(message, MAX_MESSAGE_CHARS) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(ArgumentError::TooLong))
    }
}

/// The message of an answer: at most 255 characters, checked when it is
/// built, as [`Invitation::new`] checks an invitation's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Message<'a>(&'a str);

impl<'a> Message<'a> {
    /// No message.
    pub const EMPTY: Message<'static> = Message("");

    /// A message of at most 255 characters, else
    /// `InvalidArgument(TooLong)`.
    pub fn new(message: &'a str) -> Result<Self, Error> {
        check_message(message)?;
        Ok(Message(message))
    }

    /// The first 255 characters of `message` (all of it if it is shorter):
    /// what to send when a message must go out whatever its length (a
    /// listener's last word as it stops, say).
    pub fn truncated(message: &'a str) -> Self {
        let end = message
            .char_indices()
            .nth(MAX_MESSAGE_CHARS)
            .map_or(message.len(), |(i, _)| i);
        Message(message.get(..end).unwrap_or(""))
    }

    /// The text.
    pub const fn as_str(&self) -> &'a str {
        self.0
    }
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl<'a> TryFrom<&'a str> for Message<'a> {
    type Error = Error;
    fn try_from(message: &'a str) -> Result<Self, Error> {
        Message::new(message)
    }
}

/// An invitation to join an activity: the reference's `PEER_INVITATION`.
///
/// It borrows its message and data; the [`Inviter`](crate::Inviter) copies
/// them into its own buffer once, when it is created. Built with
/// [`Invitation::new`], it is always within the protocol's limits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Invitation<'a> {
    application: ApplicationId,
    message: &'a str,
    data: &'a [u8],
}

impl<'a> Invitation<'a> {
    /// Makes an invitation. The message has at most 255 characters and the
    /// data at most 16 KiB, else `InvalidArgument`.
    pub fn new(
        application: ApplicationId,
        message: &'a str,
        data: &'a [u8],
    ) -> Result<Self, Error> {
        check_message(message)?;
        if data.len() > MAX_DATA_LEN {
            return Err(Error::InvalidArgument(ArgumentError::DataTooLong {
                max: MAX_DATA_LEN,
            }));
        }
        Ok(Invitation {
            application,
            message,
            data,
        })
    }

    /// An invitation decoded from the wire, already checked.
    pub(crate) fn from_wire(application: ApplicationId, message: &'a str, data: &'a [u8]) -> Self {
        Invitation {
            application,
            message,
            data,
        }
    }

    /// The application this invitation is for.
    pub fn application(&self) -> ApplicationId {
        self.application
    }

    /// The message for the user.
    pub fn message(&self) -> &'a str {
        self.message
    }

    /// The opaque application data.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Invitation<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "Invitation {{ application: {}, message: {=str}, data_len: {=usize} }}",
            self.application,
            self.message,
            self.data.len()
        );
    }
}

impl fmt::Debug for Invitation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invitation")
            .field("application", &self.application)
            .field("message", &self.message)
            .field("data_len", &self.data.len())
            .finish()
    }
}

/// The invitee's answer, as the inviter receives it: the reference's
/// `PEER_INVITATION_RESPONSE` actions. Only ever reported from an answer
/// authenticated by the verified responder.
///
/// The answer's message, if any, is read with
/// [`Inviter::answer_message`](crate::Inviter::answer_message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Response {
    /// The user declined (`PEER_INVITATION_RESPONSE_DECLINED`).
    Declined,
    /// The user accepted; the application is being launched
    /// (`PEER_INVITATION_RESPONSE_ACCEPTED`).
    Accepted,
    /// Nobody answered within the invitee's response timeout
    /// (`PEER_INVITATION_RESPONSE_EXPIRED`).
    Expired,
    /// The invitee's side failed with an extended error code
    /// (`PEER_INVITATION_RESPONSE_ERROR`).
    Error {
        /// The recipient-side error code.
        code: u32,
    },
}

impl Response {
    /// `Error` code: the registered program does not exist
    /// (`HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)`, protocol §9.3).
    pub const ERROR_LAUNCH_NOT_FOUND: u32 = 0x8007_0002;
    /// `Error` code: the registered program may not be run, for example it
    /// is not executable (`HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED)`).
    pub const ERROR_LAUNCH_DENIED: u32 = 0x8007_0005;
    /// `Error` code: the registered program could not be started for
    /// another reason (`E_FAIL`).
    pub const ERROR_LAUNCH_FAILED: u32 = 0x8000_4005;
    /// `Error` code: the invitee stopped listening (its user quit, or its
    /// service was stopped) while the invitation waited for an answer
    /// (`HRESULT_FROM_WIN32(ERROR_SERVICE_NOT_ACTIVE)`).
    pub const ERROR_STOPPED: u32 = 0x8007_0426;

    /// What an `Error` code of protocol §9.3 means, in a few words
    /// ("could not launch the application: not found"); `None` for a code
    /// the protocol does not define.
    #[must_use]
    pub const fn error_meaning(code: u32) -> Option<&'static str> {
        match code {
            Self::ERROR_LAUNCH_NOT_FOUND => Some("the application's program was not found"),
            Self::ERROR_LAUNCH_DENIED => Some("the application's program may not be run"),
            Self::ERROR_LAUNCH_FAILED => Some("the application could not be started"),
            Self::ERROR_STOPPED => Some("stopped listening"),
            _ => None,
        }
    }
}

/// The invitee user's decision on a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Decision<'a> {
    /// Accept, with a message (maybe [`Message::EMPTY`]).
    Accept {
        /// Sent to the inviter with the answer.
        message: Message<'a>,
    },
    /// Decline, with a message.
    Decline {
        /// Sent to the inviter with the answer.
        message: Message<'a>,
    },
    /// Answer with an error code (the reference's ERROR action), for
    /// example when the application could not be launched
    /// ([`Response::ERROR_LAUNCH_NOT_FOUND`] and the other codes of
    /// protocol §9.3).
    Error {
        /// The extended error code.
        code: u32,
        /// Sent to the inviter with the answer.
        message: Message<'a>,
    },
    /// Refuse as busy (for example when the adapter has too many prompts
    /// pending).
    Busy,
}

impl<'a> Decision<'a> {
    /// Accept with `message`; `InvalidArgument(TooLong)` if it has more
    /// than 255 characters.
    pub fn accept(message: &'a str) -> Result<Self, Error> {
        Ok(Decision::Accept {
            message: Message::new(message)?,
        })
    }

    /// Decline with `message`; `InvalidArgument(TooLong)` if it has more
    /// than 255 characters.
    pub fn decline(message: &'a str) -> Result<Self, Error> {
        Ok(Decision::Decline {
            message: Message::new(message)?,
        })
    }

    /// Answer with the error `code` and `message`;
    /// `InvalidArgument(TooLong)` if the message has more than 255
    /// characters.
    pub fn error(code: u32, message: &'a str) -> Result<Self, Error> {
        Ok(Decision::Error {
            code,
            message: Message::new(message)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_application_id_round_trips_through_text() {
        let text = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        let id: ApplicationId = text.parse().unwrap();
        let mut s = heapless::String::<40>::new();
        core::fmt::write(&mut s, format_args!("{id}")).unwrap();
        assert_eq!(s.as_str(), text);
        assert!("not-a-uuid".parse::<ApplicationId>().is_err());
    }

    #[test]
    fn a_message_of_255_characters_is_allowed_and_256_is_not() {
        let app = ApplicationId::from_bytes([1; 16]);
        let long = "é".repeat(255);
        assert!(Invitation::new(app, &long, &[]).is_ok());
        let longer = "é".repeat(256);
        assert_eq!(
            Invitation::new(app, &longer, &[]),
            Err(Error::InvalidArgument(ArgumentError::TooLong))
        );
    }

    #[test]
    fn an_answer_message_is_checked_when_it_is_built() {
        let long = "é".repeat(256);
        assert_eq!(
            Message::new(&long),
            Err(Error::InvalidArgument(ArgumentError::TooLong))
        );
        let cut = Message::truncated(&long);
        assert_eq!(cut.as_str().chars().count(), 255);
        assert!(Message::new(cut.as_str()).is_ok());
        assert_eq!(Message::truncated("Sure").as_str(), "Sure");
        assert!(Decision::accept(&long).is_err());
        assert_eq!(
            Decision::error(7, ""),
            Ok(Decision::Error {
                code: 7,
                message: Message::EMPTY
            })
        );
    }

    #[test]
    fn data_over_16_kib_is_an_argument_error() {
        let app = ApplicationId::from_bytes([1; 16]);
        let data = [0u8; MAX_DATA_LEN + 1];
        assert!(matches!(
            Invitation::new(app, "", &data),
            Err(Error::InvalidArgument(ArgumentError::DataTooLong { .. }))
        ));
        assert!(Invitation::new(app, "", &data[..MAX_DATA_LEN]).is_ok());
    }
}
