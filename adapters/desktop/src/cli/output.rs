//! What the commands print: one writer thread for the terminal, which the
//! network never waits for, and small helpers.
//!
//! Every line the listener and the inviter print (and every `tracing`
//! event under `--verbose`) goes through [`emit`] to a single writer
//! thread over a bounded queue. When stdout is a pipe nobody drains, the
//! queue fills and further lines are dropped and counted, and the next
//! line that gets through says how many were lost: the tasks that run the
//! sessions never block on output. A closed stdout (`beckon listen | head`)
//! just stops the output.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use beckon_core::PublicKey;

use beckon_desktop::store::Snapshot;

/// How many lines may wait for the writer before new ones are dropped.
const QUEUE: usize = 1024;

/// Where a piece of output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

enum Msg {
    Text(Stream, String),
    Flush(mpsc::Sender<()>),
}

struct Writer {
    queue: SyncSender<Msg>,
    dropped: Arc<AtomicU64>,
}

static WRITER: OnceLock<Writer> = OnceLock::new();
static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: informational lines ([`Status::note`]) and the live status
/// line are not shown.
pub(crate) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

fn writer() -> &'static Writer {
    WRITER.get_or_init(|| {
        let (queue, rx) = mpsc::sync_channel::<Msg>(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let lost = Arc::clone(&dropped);
        let spawned = std::thread::Builder::new()
            .name("beckon-output".into())
            .spawn(move || write_loop(&rx, &lost));
        if spawned.is_err() {
            // No thread: every line is counted as dropped.
            dropped.store(u64::MAX / 2, Ordering::Relaxed);
        }
        Writer { queue, dropped }
    })
}

fn write_loop(rx: &mpsc::Receiver<Msg>, dropped: &AtomicU64) {
    let mut stdout_closed = false;
    let mut stderr_closed = false;
    while let Ok(msg) = rx.recv() {
        let (stream, text) = match msg {
            Msg::Text(stream, text) => (stream, text),
            Msg::Flush(done) => {
                let _ = done.send(());
                continue;
            }
        };
        let closed = match stream {
            Stream::Stdout => &mut stdout_closed,
            Stream::Stderr => &mut stderr_closed,
        };
        if *closed {
            continue;
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        let mut text = text;
        if lost > 0 {
            text = format!(
                "[beckon: {lost} line(s) of output were dropped: the output was not being read]\n{text}"
            );
        }
        let written = match stream {
            Stream::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes()).and_then(|()| out.flush())
            }
            Stream::Stderr => {
                let mut err = std::io::stderr().lock();
                err.write_all(text.as_bytes()).and_then(|()| err.flush())
            }
        };
        if written.is_err() {
            // A closed pipe or a dead terminal: nothing more can be shown
            // there.
            *closed = true;
        }
    }
}

/// Queues `text` for `stream`, never waiting: when the writer has fallen
/// [`QUEUE`] lines behind, the text is dropped and counted.
pub(crate) fn emit(stream: Stream, text: String) {
    let w = writer();
    match w.queue.try_send(Msg::Text(stream, text)) {
        Ok(()) => {}
        Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
            w.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `println!` through the writer thread, so that it keeps its place among
/// the lines the sessions print.
macro_rules! say {
    () => {
        $crate::cli::output::emit($crate::cli::output::Stream::Stdout, "\n".to_owned())
    };
    ($($arg:tt)*) => {
        $crate::cli::output::emit(
            $crate::cli::output::Stream::Stdout,
            format!("{}\n", format_args!($($arg)*)),
        )
    };
}
pub(crate) use say;

/// Waits (at most `limit`) until everything queued so far is written: at
/// exit, so that the last lines are not lost. Returns whether it was.
pub(crate) fn flush(limit: Duration) -> bool {
    let Some(w) = WRITER.get() else {
        return true;
    };
    let (done, wait) = mpsc::channel();
    let deadline = std::time::Instant::now() + limit;
    let mut msg = Msg::Flush(done);
    loop {
        match w.queue.try_send(msg) {
            Ok(()) => break,
            Err(TrySendError::Full(m)) => {
                if std::time::Instant::now() >= deadline {
                    return false;
                }
                msg = m;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(TrySendError::Disconnected(_)) => return true,
        }
    }
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    wait.recv_timeout(left).is_ok()
}

/// `tracing` output (`--verbose`) through the same writer, on stderr: each
/// event is one piece of text.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TraceWriter;

/// One `tracing` event being formatted.
#[derive(Debug, Default)]
pub(crate) struct TraceEvent(Vec<u8>);

impl Write for TraceEvent {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for TraceEvent {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            emit(
                Stream::Stderr,
                String::from_utf8_lossy(&std::mem::take(&mut self.0)).into_owned(),
            );
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for TraceWriter {
    type Writer = TraceEvent;

    fn make_writer(&'a self) -> TraceEvent {
        TraceEvent::default()
    }
}

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
        let stream = if inner.to_stderr {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        emit(stream, text.to_owned());
    }

    /// An informational line, not shown under `--quiet`.
    pub(crate) fn note(&self, text: &str) {
        if !quiet() {
            self.line(text);
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
        if !inner.tty || quiet() {
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
