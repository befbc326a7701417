//! Small helpers for what the commands print.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};

use beckon_core::PublicKey;

use beckon_desktop::store::Snapshot;

/// Who a key is, for a person: `alice (SHA256:...)` for a contact,
/// `unknown (SHA256:...)` otherwise.
pub(crate) fn who(snapshot: &Snapshot, key: &PublicKey) -> String {
    match snapshot.contact(key) {
        Some(c) => format!("{} ({})", c.name, key.fingerprint()),
        None => format!("unknown ({})", key.fingerprint()),
    }
}

/// A status line on a terminal that can be rewritten in place (a live
/// countdown), and permanent lines printed above it. Off a terminal, the
/// status line is not shown at all, and permanent lines are plain lines.
#[derive(Debug, Clone)]
pub(crate) struct Status {
    inner: Arc<Mutex<StatusInner>>,
}

#[derive(Debug)]
struct StatusInner {
    tty: bool,
    to_stderr: bool,
    shown: bool,
    /// A question being asked: the live line above it, and the question
    /// itself, on whose line the user types.
    question: Option<(String, String)>,
}

impl Status {
    /// A status display on stdout.
    pub(crate) fn stdout() -> Self {
        Self::new(std::io::stdout().is_terminal(), false)
    }

    /// A status display on stderr.
    pub(crate) fn stderr() -> Self {
        Self::new(std::io::stderr().is_terminal(), true)
    }

    fn new(tty: bool, to_stderr: bool) -> Self {
        Status {
            inner: Arc::new(Mutex::new(StatusInner {
                tty,
                to_stderr,
                shown: false,
                question: None,
            })),
        }
    }

    /// Whether the display is a terminal (live updates are shown).
    pub(crate) fn is_tty(&self) -> bool {
        self.lock().tty
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StatusInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(inner: &StatusInner, text: &str) {
        if inner.to_stderr {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(text.as_bytes());
            let _ = err.flush();
        } else {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }

    /// Prints a permanent line (clearing the status line first). While a
    /// question is asked, the line goes above it and the question is shown
    /// again below.
    pub(crate) fn line(&self, text: &str) {
        let mut inner = self.lock();
        if let Some((live, question)) = inner.question.clone() {
            Self::write(
                &inner,
                &format!("\r\x1b[K\x1b[1A\r\x1b[K{text}\n{live}\n{question}"),
            );
            return;
        }
        let clear = if inner.shown { "\r\x1b[K" } else { "" };
        inner.shown = false;
        Self::write(&inner, &format!("{clear}{text}\n"));
    }

    /// Asks a question: on a terminal, a live line (a countdown, see
    /// [`Status::update_live`]) and below it the question, where the user
    /// types; elsewhere just the line `plain`.
    pub(crate) fn ask(&self, live: &str, question: &str, plain: &str) {
        let mut inner = self.lock();
        if !inner.tty {
            Self::write(&inner, &format!("{plain}\n"));
            return;
        }
        let clear = if inner.shown { "\r\x1b[K" } else { "" };
        inner.shown = false;
        Self::write(&inner, &format!("{clear}{live}\n{question}"));
        inner.question = Some((live.to_owned(), question.to_owned()));
    }

    /// Rewrites the live line above the question, leaving what the user
    /// is typing alone (the cursor is saved and restored).
    pub(crate) fn update_live(&self, live: &str) {
        let mut inner = self.lock();
        if let Some(q) = inner.question.as_mut() {
            q.0 = live.to_owned();
            Self::write(&inner, &format!("\x1b7\x1b[1A\r\x1b[K{live}\x1b8"));
        }
    }

    /// The user answered: their Enter ended the question's line.
    pub(crate) fn answered(&self) {
        self.lock().question = None;
    }

    /// The question went away unanswered: end its line.
    pub(crate) fn unask(&self) {
        let mut inner = self.lock();
        if inner.question.take().is_some() {
            Self::write(&inner, "\n");
        }
    }

    /// Shows or replaces the status line (on a terminal only).
    pub(crate) fn status(&self, text: &str) {
        let mut inner = self.lock();
        if !inner.tty {
            return;
        }
        inner.shown = true;
        Self::write(&inner, &format!("\r\x1b[K{text}"));
    }

    /// Removes the status line.
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        if inner.shown {
            inner.shown = false;
            Self::write(&inner, "\r\x1b[K");
        }
    }
}

/// Quotes a message for display on one line.
pub(crate) fn quoted(message: &str) -> String {
    format!("{message:?}")
}
