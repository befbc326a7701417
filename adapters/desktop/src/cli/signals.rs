//! The signals that stop a command: Ctrl-C (SIGINT) everywhere, and on
//! Unix also SIGTERM (what service managers send) and SIGHUP (the terminal
//! went away). Each has its own exit code (128 + the signal's number). On
//! Windows, Ctrl-Break and Ctrl-Close (the console window closed, or the
//! service manager stopping the process) stand for SIGTERM and SIGHUP.

use super::exit;

/// A signal that asks the command to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Ctrl-C: SIGINT.
    Interrupt,
    /// SIGTERM (on Windows, Ctrl-Break).
    Terminate,
    /// SIGHUP (on Windows, Ctrl-Close).
    HangUp,
}

impl Stop {
    /// The exit code for a command stopped by this signal.
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Stop::Interrupt => exit::INTERRUPTED,
            Stop::Terminate => exit::TERMINATED,
            Stop::HangUp => exit::HANGUP,
        }
    }

    /// How the signal is named to a person.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "Ctrl-C",
            Stop::Terminate => "SIGTERM",
            Stop::HangUp => "SIGHUP",
        }
    }
}

/// Catches the stop signals from now on (so none of them kills the process
/// before the command has cleaned up); [`Signals::next`] waits for one.
pub(crate) struct Signals {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
    #[cfg(windows)]
    int: Option<tokio::signal::windows::CtrlC>,
    #[cfg(windows)]
    brk: Option<tokio::signal::windows::CtrlBreak>,
    #[cfg(windows)]
    close: Option<tokio::signal::windows::CtrlClose>,
}

impl Signals {
    /// Installs the handlers, Ctrl-C's among them, now: a signal that comes
    /// before the first [`next`](Self::next) is caught and kept for it. A
    /// handler that cannot be installed is left out (the signal then keeps
    /// its default action).
    pub(crate) fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(windows)]
        {
            use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
            Signals {
                int: ctrl_c().ok(),
                brk: ctrl_break().ok(),
                close: ctrl_close().ok(),
            }
        }
        #[cfg(not(any(unix, windows)))]
        {
            Signals {}
        }
    }

    /// The next stop signal.
    pub(crate) async fn next(&mut self) -> Stop {
        #[cfg(unix)]
        {
            tokio::select! {
                () = once(self.int.as_mut().map(|s| s.recv())) => Stop::Interrupt,
                () = once(self.term.as_mut().map(|s| s.recv())) => Stop::Terminate,
                () = once(self.hup.as_mut().map(|s| s.recv())) => Stop::HangUp,
            }
        }
        #[cfg(windows)]
        {
            tokio::select! {
                () = once(self.int.as_mut().map(|s| s.recv())) => Stop::Interrupt,
                () = once(self.brk.as_mut().map(|s| s.recv())) => Stop::Terminate,
                () = once(self.close.as_mut().map(|s| s.recv())) => Stop::HangUp,
            }
        }
        #[cfg(not(any(unix, windows)))]
        {
            interrupted(tokio::signal::ctrl_c().await).await
        }
    }
}

/// Ctrl-C, once `ctrl_c` came back: never, if its handler could not be
/// installed.
#[cfg(not(any(unix, windows)))]
async fn interrupted(ctrl_c: std::io::Result<()>) -> Stop {
    match ctrl_c {
        Ok(()) => Stop::Interrupt,
        Err(_) => std::future::pending().await,
    }
}

/// Completes when a signal's `recv` does (the signal came, or its stream
/// ended); never for a signal without a handler (`None`).
#[cfg(any(unix, windows))]
async fn once(recv: Option<impl std::future::Future>) {
    match recv {
        Some(recv) => {
            recv.await;
        }
        None => std::future::pending().await,
    }
}
