//! The exit codes of `beckon`: one table, shown by `--help`, copied into the
//! README (a test compares them), and used by every command.
//!
//! The invitation outcomes (0–6) come first; the rest follow the BSD
//! `sysexits.h` conventions that shells and service managers know.

use beckon_core::{Error, Response, SessionError};
use beckon_tokio::{Answer, InviteError};

/// The invitation was accepted, or the command succeeded.
pub const OK: u8 = 0;
/// The invitation was declined, or the invitee answered with an error (its
/// application could not be launched, say).
pub const DECLINED: u8 = 1;
/// The invitation expired, or no answer came in time.
pub const EXPIRED: u8 = 2;
/// Refused, in an authenticated answer: not a trusted contact, blocked,
/// invitations off, the application is not registered, busy, or too large.
pub const REFUSED: u8 = 3;
/// The contact is not at that endpoint: someone else answered, or nothing
/// there answered to the contact's key. Nothing of the invitation was sent.
pub const CONTACT_MISMATCH: u8 = 4;
/// Could not connect, or the connection failed (closed, reset, timed out,
/// a protocol error, or not a Beckon listener).
pub const CONNECT: u8 = 5;
/// Refused in clear, before the responder proved its key: anyone on the
/// path could have sent it.
pub const UNAUTHENTICATED_REFUSAL: u8 = 6;
/// Bad arguments (EX_USAGE).
pub const USAGE: u8 = 64;
/// Bad input data: a malformed key, name or address, a duplicate, an input
/// over its limit (EX_DATAERR).
pub const DATA: u8 = 65;
/// A missing input: no identity yet (run `beckon init`), a missing file, an
/// unknown contact or application (EX_NOINPUT).
pub const NO_INPUT: u8 = 66;
/// A service this command needs is not available: the listening address
/// is in use or cannot be bound (EX_UNAVAILABLE).
pub const UNAVAILABLE: u8 = 69;
/// An internal error (EX_SOFTWARE).
pub const SOFTWARE: u8 = 70;
/// An operating-system or I/O error (EX_IOERR).
pub const IO: u8 = 74;
/// A file in the Beckon home does not parse; it is named with its line and
/// left unchanged (EX_CONFIG).
pub const CONFIG: u8 = 78;
/// A path of the Beckon home could have been changed by someone else:
/// not owned by the user, writable by group or others, or a private key
/// readable by others (EX_NOPERM; checked like sshd's StrictModes).
pub const PERMISSION: u8 = 77;
/// A bug: Rust's exit code after a panic.
pub const PANIC: u8 = 101;
/// Cancelled with Ctrl-C, SIGINT (128 + 2).
pub const INTERRUPTED: u8 = 130;
/// Stopped by SIGHUP (the terminal went away): 128 + 1. Unix only.
pub const HANGUP: u8 = 129;
/// Stopped by SIGTERM (a service manager's stop): 128 + 15. Unix only.
pub const TERMINATED: u8 = 143;

/// Every exit code with its meaning, in order: the one table.
pub const TABLE: &[(u8, &str)] = &[
    (OK, "accepted (or: the command succeeded)"),
    (DECLINED, "declined, or answered with an error (the application could not be launched, or the invitee stopped listening)"),
    (EXPIRED, "expired, or no answer in time"),
    (REFUSED, "refused (authenticated): not a trusted contact, blocked, invitations off, application not registered, busy, or too large"),
    (CONTACT_MISMATCH, "contact mismatch: the contact is not at that endpoint (nothing of the invitation was sent)"),
    (CONNECT, "could not connect, or the connection failed (or not a Beckon listener)"),
    (UNAUTHENTICATED_REFUSAL, "refused in clear, before the responder proved its key (forgeable: anyone on the path could send it)"),
    (USAGE, "usage error (bad arguments)"),
    (DATA, "bad data (a malformed key, name or address, a duplicate, over a limit; an identity file that is not a usable key, or a wrong passphrase)"),
    (NO_INPUT, "missing input (no identity yet: run `beckon init`; a missing file; an unknown contact or application)"),
    (UNAVAILABLE, "cannot listen: the address is in use or unavailable"),
    (SOFTWARE, "internal error"),
    (IO, "I/O error"),
    (PERMISSION, "refused to use the Beckon home: a directory or file is not yours, is writable by group or others, or your key is readable by others (the path and the chmod/chown that fixes it are named)"),
    (CONFIG, "a file in the Beckon home does not parse (it is named with its line and left unchanged)"),
    (PANIC, "a bug: the program panicked"),
    (HANGUP, "stopped by SIGHUP (the terminal went away); an invitation is cancelled, waiting inviters are told the listener stopped"),
    (INTERRUPTED, "stopped with Ctrl-C (SIGINT); an invitation is cancelled, waiting inviters are told the listener stopped"),
    (TERMINATED, "stopped by SIGTERM; as Ctrl-C"),
];

/// The table as `--help` shows it.
pub fn help() -> String {
    let mut text = String::from("Exit codes:\n");
    for (code, meaning) in TABLE {
        text.push_str(&format!("    {code:<4} {meaning}\n"));
    }
    text.push_str(
        "\nFiles live in $BECKON_HOME if set, else in the platform configuration\n\
         directory plus beckon/ (~/.config/beckon on Linux). The default port is\n\
         7464/tcp.",
    );
    text
}

/// The table as the README shows it: a Markdown table.
pub fn markdown() -> String {
    let mut text = String::from("| Code | Meaning |\n| --- | --- |\n");
    for (code, meaning) in TABLE {
        text.push_str(&format!("| {code} | {meaning} |\n"));
    }
    text
}

/// The exit code for an authenticated response.
pub fn for_response(response: Response) -> u8 {
    match response {
        Response::Accepted => OK,
        Response::Declined | Response::Error { .. } => DECLINED,
        Response::Expired => EXPIRED,
    }
}

/// The exit code for the end of an invitation.
pub fn for_invite(result: &Result<Answer, InviteError>) -> u8 {
    match result {
        Ok(answer) => for_response(answer.response),
        Err(error) => for_invite_error(error),
    }
}

/// The exit code for an invitation that got no answer.
pub fn for_invite_error(error: &InviteError) -> u8 {
    match error {
        InviteError::Connect(_) | InviteError::Io(_) => CONNECT,
        InviteError::Invalid(error) => for_core_error(*error),
        InviteError::Failed { error, .. } => for_session_error(*error),
    }
}

/// The exit code for how a session ended without an answer. Exhaustive:
/// a new ending must be given its code here.
pub fn for_session_error(error: SessionError) -> u8 {
    match error {
        SessionError::Timeout => EXPIRED,
        SessionError::Refused {
            authenticated: false,
            ..
        } => UNAUTHENTICATED_REFUSAL,
        SessionError::Refused { .. } => REFUSED,
        SessionError::ContactMismatch => CONTACT_MISMATCH,
        SessionError::Cancelled => INTERRUPTED,
        SessionError::HandshakeTimeout
        | SessionError::ConnectionClosed
        | SessionError::PeerSilent
        | SessionError::Protocol(_)
        | SessionError::UnsupportedVersion { .. } => CONNECT,
        SessionError::Internal => SOFTWARE,
    }
}

/// The exit code for a call the core refused.
pub fn for_core_error(error: Error) -> u8 {
    match error {
        Error::Expired => EXPIRED,
        Error::Cancelled => INTERRUPTED,
        Error::InvalidArgument(_) | Error::InvalidKey(_) => DATA,
        Error::CapacityFull | Error::NotFound => USAGE,
        _ => SOFTWARE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_core::{ArgumentError, Identity, ProtocolError, Refusal};
    use std::io;

    fn failed(error: SessionError) -> InviteError {
        InviteError::Failed {
            error,
            responder: None,
        }
    }

    #[test]
    fn codes_are_unique_and_in_order() {
        for pair in TABLE.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{pair:?}");
        }
    }

    #[test]
    fn invitation_outcomes_follow_the_table() {
        let key = Identity::from_seed(&[1; 32]).public_key();
        let answer = |response| {
            Ok(Answer {
                response,
                responder: key,
                message: String::new(),
            })
        };
        assert_eq!(for_invite(&answer(Response::Accepted)), 0);
        assert_eq!(for_invite(&answer(Response::Declined)), 1);
        assert_eq!(for_invite(&answer(Response::Error { code: 7 })), 1);
        assert_eq!(for_invite(&answer(Response::Expired)), 2);
        assert_eq!(for_invite_error(&failed(SessionError::Timeout)), 2);
        for reason in [
            Refusal::NotTrusted,
            Refusal::Blocked,
            Refusal::InvitationsOff,
            Refusal::ApplicationNotRegistered,
            Refusal::Busy,
            Refusal::TooLarge,
        ] {
            let sealed = failed(SessionError::Refused {
                reason,
                authenticated: true,
            });
            assert_eq!(for_invite_error(&sealed), 3);
            let clear = failed(SessionError::Refused {
                reason,
                authenticated: false,
            });
            assert_eq!(for_invite_error(&clear), 6);
        }
        assert_eq!(for_invite_error(&failed(SessionError::ContactMismatch)), 4);
        assert_eq!(
            for_invite_error(&InviteError::Connect(
                io::ErrorKind::ConnectionRefused.into()
            )),
            5
        );
        assert_eq!(
            for_invite_error(&InviteError::Io(io::ErrorKind::BrokenPipe.into())),
            5
        );
        for e in [
            SessionError::ConnectionClosed,
            SessionError::PeerSilent,
            SessionError::HandshakeTimeout,
            SessionError::Protocol(ProtocolError::Decrypt),
        ] {
            assert_eq!(for_invite_error(&failed(e)), 5, "{e}");
        }
        assert_eq!(
            for_invite_error(&InviteError::Invalid(Error::InvalidArgument(
                ArgumentError::TooLong
            ))),
            65
        );
        assert_eq!(for_invite_error(&failed(SessionError::Cancelled)), 130);
        assert_eq!(for_invite_error(&failed(SessionError::Internal)), 70);
    }

    #[test]
    fn the_help_lists_every_code() {
        let help = help();
        for (code, meaning) in TABLE {
            assert!(help.contains(&format!("{code:<4} {meaning}")), "{code}");
        }
    }
}
