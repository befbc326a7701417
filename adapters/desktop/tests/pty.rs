//! A real `beckon listen` on a pseudo-terminal, as a person runs it: no
//! line typed ahead of a prompt can answer it.
//!
//! Each test keeps a transcript of what the terminal showed and what was
//! typed; it is printed when a test fails, and written to the file named
//! by `BECKON_PTY_TRANSCRIPT` (appended) when that is set.

#![cfg(unix)]

mod e2e_support;

use std::process::Command;
use std::time::Duration;

use e2e_support::{Peer, Proc, BECKON};
use expectrl::{Expect, Regex, Session};

const WAIT: Duration = Duration::from_secs(20);

/// `beckon listen` on a pty, and what it showed.
struct Pty {
    session: expectrl::session::OsSession,
    transcript: String,
    name: String,
}

impl Pty {
    fn listen(peer: &Peer, name: &str, extra: &[&str]) -> (Pty, String) {
        let mut cmd = Command::new(BECKON);
        cmd.env("BECKON_HOME", &peer.home)
            .env_remove("RUST_LOG")
            .env("TERM", "xterm")
            .args(["listen", "--listen", "127.0.0.1:0"])
            .args(extra);
        let mut session = Session::spawn(cmd).expect("spawn beckon listen on a pty");
        session.set_expect_timeout(Some(WAIT));
        let mut pty = Pty {
            session,
            transcript: String::new(),
            name: name.to_owned(),
        };
        let found = pty.expect(r"listening on (\S+)");
        let addr = found.split_whitespace().nth(2).expect("address").to_owned();
        pty.expect("answer y or n here");
        (pty, addr)
    }

    /// Waits for `pattern` (a regex) on the terminal; returns the match.
    fn expect(&mut self, pattern: &str) -> String {
        match self.session.expect(Regex(pattern)) {
            Ok(found) => {
                self.transcript
                    .push_str(&visible(&String::from_utf8_lossy(found.before())));
                let matched = String::from_utf8_lossy(&found[0]).into_owned();
                self.transcript.push_str(&visible(&matched));
                matched
            }
            Err(e) => {
                let shown = self.transcript.clone();
                panic!(
                    "{}: {pattern:?} not shown ({e}); the terminal so far:\n{shown}",
                    self.name
                )
            }
        }
    }

    /// Types a line and Enter, as a person would.
    fn type_line(&mut self, line: &str) {
        self.transcript.push_str(&format!("⟨typed {line:?}⏎⟩"));
        self.session
            .send(format!("{line}\r"))
            .expect("type on the pty");
    }

    /// Whatever the terminal shows within `wait`.
    fn drain(&mut self, wait: Duration) {
        self.session.set_expect_timeout(Some(wait));
        // Nothing matches this: read until the timeout.
        if let Ok(found) = self.session.expect(Regex("\u{0}never\u{0}")) {
            self.transcript
                .push_str(&visible(&String::from_utf8_lossy(found.before())));
        }
        let mut buf = [0u8; 4096];
        while let Ok(n) = self.session.try_read(&mut buf) {
            if n == 0 {
                break;
            }
            self.transcript
                .push_str(&visible(&String::from_utf8_lossy(&buf[..n])));
        }
        self.session.set_expect_timeout(Some(WAIT));
    }

    /// Ends the test: saves the transcript where asked to.
    fn finish(mut self, title: &str) -> String {
        self.drain(Duration::from_millis(300));
        if let Ok(path) = std::env::var("BECKON_PTY_TRANSCRIPT") {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open the transcript file");
            writeln!(f, "── {title} ──\n{}\n", self.transcript).expect("write transcript");
        }
        let _ = self.session.get_process_mut().exit(true);
        self.transcript
    }
}

/// What a person sees: escape sequences dropped, a carriage return that
/// rewrites a line shown as a new line.
fn visible(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // ESC [ ... letter, or ESC and one character.
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            '\r' => {
                if chars.peek() != Some(&'\n') && !out.ends_with('\n') && !out.is_empty() {
                    out.push('\n');
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Alice, Carol and Bob; Bob trusts both and registered chess (`true`).
fn people() -> (Peer, Peer, Peer) {
    let alice = Peer::new("alice");
    let carol = Peer::new("carol");
    let bob = Peer::new("bob");
    for p in [&alice, &carol] {
        p.add_contact(&bob);
        bob.add_contact(p);
    }
    bob.register("chess", &["true"]);
    (alice, carol, bob)
}

fn invite(from: &Peer, addr: &str) -> Proc {
    let mut cmd = from.cmd();
    cmd.args(["invite", "bob", addr, "--app", "chess"]);
    Proc::spawn(cmd, &format!("{} invite", from.name))
}

#[test]
fn a_line_typed_before_any_invitation_does_not_accept_it() {
    let (alice, _carol, bob) = people();
    let (mut pty, addr) = Pty::listen(&bob, "bob listen", &["--answer-within", "3s"]);
    // A stray `y` into the idle listener.
    pty.type_line("y");
    pty.expect(r#"ignored "y": typed while no invitation was waiting"#);
    let mut inviter = invite(&alice, &addr);
    pty.expect(r"invitation from alice");
    pty.expect(r"accept\? \[y/n\]");
    // A `y` the moment the prompt appears, before it could be read.
    pty.type_line("y");
    pty.expect(r#"ignored "y": typed within a second of the prompt appearing"#);
    pty.expect(r"expired: nobody answered in time");
    assert_eq!(inviter.wait(WAIT), 2, "{:#?}", inviter.seen);
    let transcript = pty.finish("a line typed before any invitation does not accept it");
    assert!(!transcript.contains("accepted"), "{transcript}");
}

#[test]
fn a_line_typed_as_a_prompt_expires_does_not_accept_the_next() {
    let (alice, carol, bob) = people();
    let (mut pty, addr) = Pty::listen(&bob, "bob listen", &["--answer-within", "3s"]);
    let mut first = invite(&alice, &addr);
    pty.expect(r"accept\? \[y/n\]");
    // Carol's invitation waits behind Alice's prompt.
    let mut second = invite(&carol, &addr);
    second.expect_line("waiting for bob", WAIT);
    pty.expect(r"expired: nobody answered in time");
    // Typed just as Alice's prompt went away: it must not answer Carol's.
    pty.type_line("y");
    pty.expect(
        r#"ignored "y": typed (while no invitation was waiting|within a second of the prompt appearing)"#,
    );
    // Carol's deadline ran while she waited: her prompt expires on screen,
    // or (on a slow machine) already in the queue; either way unanswered.
    // On a loaded machine the typed line is read only after that, so her
    // expiry may come before the ignored line as well as after it.
    let carol_expired = |t: &str| {
        t.lines().any(|l| {
            l.starts_with("expired: nobody answered in time; carol ")
                || l.starts_with(
                    "expired while waiting behind another prompt: an invitation from carol ",
                )
        })
    };
    if !carol_expired(&pty.transcript) {
        pty.expect(
            r"expired(: nobody answered in time; carol | while waiting behind another prompt: an invitation from carol )",
        );
    }
    assert!(carol_expired(&pty.transcript), "{}", pty.transcript);
    assert!(
        pty.transcript.contains("invitation from carol"),
        "{}",
        pty.transcript
    );
    assert_eq!(first.wait(WAIT), 2, "{:#?}", first.seen);
    assert_eq!(second.wait(WAIT), 2, "{:#?}", second.seen);
    let transcript = pty.finish("a line typed as a prompt expires does not accept the next");
    assert!(!transcript.contains("accepted"), "{transcript}");
}

#[test]
fn a_line_typed_after_the_prompt_settles_answers_it() {
    let (alice, _carol, bob) = people();
    let (mut pty, addr) = Pty::listen(&bob, "bob listen", &[]);
    let mut inviter = invite(&alice, &addr);
    pty.expect(r"accept\? \[y/n\]");
    std::thread::sleep(Duration::from_millis(1500));
    pty.type_line("y see you there");
    pty.expect(r"accepted the invitation from alice");
    assert_eq!(inviter.wait(WAIT), 0, "{:#?}", inviter.seen);
    inviter.assert_saw(|l| l.contains("see you there"));
    pty.finish("a line typed after the prompt settles answers it");
}
