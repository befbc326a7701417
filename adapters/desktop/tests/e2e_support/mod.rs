//! Helpers shared by the end-to-end and store tests: run the real `beckon`
//! binary with its own `BECKON_HOME`, and make sure every process it
//! starts is killed, even when a test fails.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BECKON: &str = env!("CARGO_BIN_EXE_beckon");

/// A `beckon` command with this home and a clean environment.
pub fn beckon(home: &Path) -> Command {
    let mut cmd = Command::new(BECKON);
    cmd.env("BECKON_HOME", home)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

/// Runs a command to the end and returns its output.
pub fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run beckon")
}

/// Runs a command that must succeed; returns its stdout.
pub fn ok(cmd: Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "beckon failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Output bytes as text (lossily).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The command's exit code; -1 if a signal ended it.
pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Asserts that the command exited with `want`, with its stderr if not.
pub fn assert_code(out: &Output, want: i32) {
    assert_eq!(code(out), want, "{}", text(&out.stderr));
}

/// Asserts that the command said `needle` on stderr.
pub fn assert_said(out: &Output, needle: &str) {
    assert!(text(&out.stderr).contains(needle), "{}", text(&out.stderr));
}

/// A peer: a temporary home with an identity.
pub struct Peer {
    _dir: tempfile::TempDir,
    pub home: PathBuf,
    pub name: String,
    /// `ssh-ed25519 AAAA... name`.
    pub card: String,
    /// `SHA256:...`.
    pub fingerprint: String,
}

/// Bob, with chess registered (`true`), and `n` peers `inviter0`… that
/// know him and that he knows.
pub fn bob_and_inviters(n: usize) -> (Peer, Vec<Peer>) {
    let bob = Peer::new("bob");
    bob.register("chess", &["true"]);
    let inviters = (0..n)
        .map(|i| {
            let p = Peer::new(&format!("inviter{i}"));
            p.add_contact(&bob);
            bob.add_contact(&p);
            p
        })
        .collect();
    (bob, inviters)
}

impl Peer {
    pub fn new(name: &str) -> Peer {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        let mut init = beckon(&home);
        init.args(["init", "--nickname", name]);
        ok(init);
        let mut id = beckon(&home);
        id.arg("id");
        let out = ok(id);
        let mut lines = out.lines();
        let card = lines.next().expect("card").to_owned();
        let fingerprint = lines.next().expect("fingerprint").to_owned();
        Peer {
            _dir: dir,
            home,
            name: name.to_owned(),
            card,
            fingerprint,
        }
    }

    pub fn cmd(&self) -> Command {
        beckon(&self.home)
    }

    /// Runs `beckon ARGS` that must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let mut cmd = self.cmd();
        cmd.args(args);
        ok(cmd)
    }

    /// Adds another peer as a contact under its own name.
    pub fn add_contact(&self, other: &Peer) {
        self.ok(&["contact", "add", &other.name, &other.card]);
    }

    /// Registers an application.
    pub fn register(&self, app: &str, command: &[&str]) {
        let mut args = vec!["app", "register", app, "--"];
        args.extend_from_slice(command);
        self.ok(&args);
    }
}

/// A running child process, killed and reaped when dropped. Its stdout is
/// read line by line in a thread.
pub struct Proc {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    lines: Receiver<String>,
    pub seen: Vec<String>,
    what: String,
}

impl Proc {
    pub fn spawn(mut cmd: Command, what: &str) -> Proc {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn beckon");
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let tx2 = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx2.send(format!("[stderr] {line}")).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            stdin,
            lines: rx,
            seen: Vec::new(),
            what: what.to_owned(),
        }
    }

    /// Types a line on the process's stdin (spawned with `Stdio::piped()`).
    pub fn type_line(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin piped");
        writeln!(stdin, "{line}").expect("write stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Answers the prompt just shown: waits out the second in which the
    /// listener ignores input after a prompt appears, then types `line`.
    pub fn answer(&mut self, line: &str) {
        thread::sleep(Duration::from_millis(1200));
        self.type_line(line);
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a line containing `needle`; panics with everything seen
    /// on timeout.
    pub fn expect_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}: no line with {needle:?} within {timeout:?}; seen:\n{}",
                    self.what,
                    self.seen.join("\n")
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "{}: exited before a line with {needle:?}; seen:\n{}",
                    self.what,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Whether any line seen so far is one that `want` wants.
    pub fn saw(&self, want: impl Fn(&str) -> bool) -> bool {
        self.seen.iter().any(|l| want(l))
    }

    /// Asserts that a line seen so far is one that `want` wants; shows
    /// every line seen if none is.
    pub fn assert_saw(&self, want: impl Fn(&str) -> bool) {
        assert!(self.saw(want), "{}: {:#?}", self.what, self.seen);
    }

    /// Asserts that no line seen so far is one that `unwanted` finds;
    /// shows every line seen if one is.
    pub fn assert_never_saw(&self, unwanted: impl Fn(&str) -> bool) {
        assert!(!self.saw(unwanted), "{}: {:#?}", self.what, self.seen);
    }

    /// Reads what is available for `wait`, returning all lines seen.
    pub fn drain(&mut self, wait: Duration) -> &[String] {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => break,
            }
        }
        &self.seen
    }

    /// Waits for the process to exit and returns its code.
    pub fn wait(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Collect the rest of the output.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return status.code().unwrap_or(-1);
            }
            if Instant::now() >= deadline {
                self.drain(Duration::from_millis(10));
                panic!(
                    "{}: still running after {timeout:?}; seen:\n{}",
                    self.what,
                    self.seen.join("\n")
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGINT, as Ctrl-C does.
    pub fn interrupt(&self) {
        self.signal("INT");
    }

    /// Sends a signal by name (`TERM`, `HUP`, ...).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A listener for a peer on a loopback port chosen by the system; returns
/// once it printed the address it is listening on.
pub fn listen(peer: &Peer, extra: &[&str]) -> (Proc, String) {
    let mut cmd = peer.cmd();
    cmd.args(["listen", "--listen", "127.0.0.1:0"]).args(extra);
    // Interactive listeners read answers from a pipe the test writes.
    cmd.stdin(Stdio::piped());
    let mut proc = Proc::spawn(cmd, &format!("{} listen", peer.name));
    let line = proc.expect_line("listening on ", Duration::from_secs(20));
    let addr = line
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("address")
        .to_owned();
    (proc, addr)
}
