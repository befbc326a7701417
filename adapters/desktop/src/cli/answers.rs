//! Answers typed on the terminal, bound to the prompt they answer.
//!
//! A line can only ever answer the prompt that was on screen when the line
//! was completed (Enter pressed), and only after that prompt has been up
//! for [`SETTLE`]. Everything else is read and thrown away, with a line
//! saying so:
//!
//! - a line typed while no invitation is on screen (a stray `y`, or a
//!   shell command typed into the wrong window) does not wait for the next
//!   invitation;
//! - a line typed just as a prompt is withdrawn (expired, cancelled) does
//!   not land on the next prompt, which may be another inviter's: it was
//!   completed either while no prompt was up, or within the next prompt's
//!   first second;
//! - a line that arrives for a prompt that has meanwhile gone (the reader
//!   and the prompt race) carries the old prompt's number and is dropped.
//!
//! The reader is a plain thread, because reading a terminal blocks; it
//! ends with the process.

use std::io::BufRead;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::output::Status;

/// How long a new prompt is up before a line can answer it.
pub(crate) const SETTLE: Duration = Duration::from_secs(1);

/// The longest answer line kept (`y` and a 255-character message, in
/// UTF-8, fit); the rest of a longer line is read and dropped.
const MAX_LINE: usize = 2048;

/// What the reader sends to the prompt on screen.
#[derive(Debug)]
pub(crate) enum Typed {
    /// A line completed while prompt `prompt` was on screen and settled.
    Line {
        /// The prompt it answers.
        prompt: u64,
        /// The line, without its end.
        text: String,
    },
    /// Stdin is closed: nothing more will be typed.
    Closed,
}

/// The prompt on screen, shared with the reader thread.
#[derive(Debug, Default)]
struct Screen {
    /// The number of the prompt on screen and when it appeared.
    prompt: Option<(u64, Instant)>,
    /// Stdin has ended.
    closed: bool,
}

/// The terminal's answers: show a prompt with [`Answers::open`], take lines
/// for it with [`Answers::recv`], and close it with [`Answers::close`].
#[derive(Debug)]
pub(crate) struct Answers {
    screen: Arc<Mutex<Screen>>,
    lines: mpsc::Receiver<Typed>,
    next: u64,
    current: Option<u64>,
}

impl Answers {
    /// Starts reading stdin. Lines are reported as ignored on `out` with
    /// `prefix`.
    pub(crate) fn stdin(out: Status, prefix: String) -> Answers {
        Self::spawn(std::io::BufReader::new(std::io::stdin()), out, prefix)
    }

    fn spawn<R: BufRead + Send + 'static>(reader: R, out: Status, prefix: String) -> Answers {
        let screen = Arc::new(Mutex::new(Screen::default()));
        let (tx, rx) = mpsc::channel(4);
        let shared = Arc::clone(&screen);
        std::thread::spawn(move || read_lines(reader, &shared, &tx, &out, &prefix));
        Answers {
            screen,
            lines: rx,
            next: 0,
            current: None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Screen> {
        self.screen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new prompt is on screen from now on. Lines of earlier prompts
    /// still in the channel are dropped.
    pub(crate) fn open(&mut self) {
        while let Ok(typed) = self.lines.try_recv() {
            if matches!(typed, Typed::Closed) {
                self.lock().closed = true;
            }
        }
        self.next = self.next.wrapping_add(1);
        self.current = Some(self.next);
        self.lock().prompt = Some((self.next, Instant::now()));
    }

    /// The prompt is gone (answered or withdrawn): lines completed from
    /// now on answer nothing.
    pub(crate) fn close(&mut self) {
        self.current = None;
        self.lock().prompt = None;
    }

    /// Whether stdin has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// The next line for the prompt on screen, or `None` once stdin is
    /// closed. Lines for another prompt are skipped.
    pub(crate) async fn recv(&mut self) -> Option<String> {
        loop {
            match self.lines.recv().await {
                Some(Typed::Line { prompt, text }) if Some(prompt) == self.current => {
                    return Some(text);
                }
                Some(Typed::Line { .. }) => {}
                Some(Typed::Closed) | None => {
                    self.lock().closed = true;
                    return None;
                }
            }
        }
    }
}

/// The reader thread: each completed line goes to the prompt on screen if
/// it has settled, and is otherwise dropped with a line saying why.
fn read_lines<R: BufRead>(
    mut reader: R,
    screen: &Mutex<Screen>,
    tx: &mpsc::Sender<Typed>,
    out: &Status,
    prefix: &str,
) {
    loop {
        let line = match read_bounded_line(&mut reader, MAX_LINE) {
            Ok(Some(line)) => line,
            Ok(None) | Err(_) => {
                screen.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
                let _ = tx.blocking_send(Typed::Closed);
                return;
            }
        };
        let completed = Instant::now();
        let prompt = screen.lock().unwrap_or_else(PoisonError::into_inner).prompt;
        let text = String::from_utf8_lossy(&line).trim().to_owned();
        match prompt {
            None => {
                if !text.is_empty() {
                    out.line(&format!(
                        "{prefix}ignored {}: typed while no invitation was waiting for an answer",
                        shown(&text)
                    ));
                }
            }
            Some((_, since)) if completed.saturating_duration_since(since) < SETTLE => {
                out.line(&format!(
                    "{prefix}ignored {}: typed within a second of the prompt appearing; read it, then answer",
                    shown(&text)
                ));
            }
            Some((prompt, _)) => {
                // The prompt owner drains the channel; if it is full, the
                // owner is not listening, and the line is dropped.
                let _ = tx.try_send(Typed::Line { prompt, text });
            }
        }
    }
}

/// A typed line as it is shown back (quoted, shortened).
fn shown(text: &str) -> String {
    const KEEP: usize = 40;
    if text.chars().count() > KEEP {
        let head: String = text.chars().take(KEEP).collect();
        format!("{head:?}...")
    } else {
        format!("{text:?}")
    }
}

/// Reads one line of at most `max` bytes (the rest of a longer line is
/// read and dropped); `None` at the end of input. The line end is not
/// included.
fn read_bounded_line<R: BufRead>(reader: &mut R, max: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let mut any = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(any.then_some(line));
        }
        any = true;
        let (chunk, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        let room = max.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = end.unwrap_or(buf.len());
        reader.consume(used);
        if end.is_some() {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_is_cut_and_the_next_line_is_whole() {
        let input = format!("{}\nyes\r\nlast", "x".repeat(5000));
        let mut r = std::io::BufReader::with_capacity(7, input.as_bytes());
        let first = read_bounded_line(&mut r, 100).unwrap().unwrap();
        assert_eq!(first.len(), 100);
        assert_eq!(read_bounded_line(&mut r, 100).unwrap().unwrap(), b"yes");
        assert_eq!(read_bounded_line(&mut r, 100).unwrap().unwrap(), b"last");
        assert_eq!(read_bounded_line(&mut r, 100).unwrap(), None);
    }

    /// A pipe whose writer the test holds: lines arrive when written.
    fn piped() -> (std::io::PipeWriter, Answers) {
        let (reader, writer) = std::io::pipe().unwrap();
        let answers = Answers::spawn(
            std::io::BufReader::new(reader),
            Status::stderr(),
            "[test] ".into(),
        );
        (writer, answers)
    }

    fn type_line(w: &mut std::io::PipeWriter, line: &str) {
        use std::io::Write;
        writeln!(w, "{line}").unwrap();
    }

    #[tokio::test]
    async fn a_line_typed_with_no_prompt_up_answers_nothing() {
        let (mut w, mut answers) = piped();
        type_line(&mut w, "y");
        // Give the reader time to take and drop it.
        tokio::time::sleep(Duration::from_millis(200)).await;
        answers.open();
        tokio::time::sleep(SETTLE + Duration::from_millis(100)).await;
        type_line(&mut w, "n");
        assert_eq!(answers.recv().await.as_deref(), Some("n"));
    }

    #[tokio::test]
    async fn a_line_in_the_first_second_of_a_prompt_is_ignored() {
        let (mut w, mut answers) = piped();
        answers.open();
        type_line(&mut w, "y");
        tokio::time::sleep(SETTLE + Duration::from_millis(100)).await;
        type_line(&mut w, "n later");
        assert_eq!(answers.recv().await.as_deref(), Some("n later"));
    }

    #[tokio::test]
    async fn a_line_for_a_closed_prompt_does_not_answer_the_next() {
        let (mut w, mut answers) = piped();
        answers.open();
        tokio::time::sleep(SETTLE + Duration::from_millis(100)).await;
        type_line(&mut w, "y");
        // The line reached the channel for prompt 1, but prompt 1 went
        // away before it was taken.
        tokio::time::sleep(Duration::from_millis(200)).await;
        answers.close();
        answers.open();
        drop(w);
        assert_eq!(answers.recv().await, None);
        assert!(answers.is_closed());
    }
}
