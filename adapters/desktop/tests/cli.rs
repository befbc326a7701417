//! What people expect of a command, on the real `beckon` binary: a closed
//! pipe is not a crash, completions and a man page, one JSON object on
//! stdout for any error under `--json`, `--verbose` and `--quiet`, risky
//! setups said at start, floods of unidentified connections summed up, and
//! a listener whose stdout nobody reads still answering.

#![cfg(unix)]

mod e2e_support;

use std::io::Read;
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use e2e_support::{bob_and_inviters, listen, run, text, Peer, Proc};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let bob = Peer::new("bob");
    // The reading end is closed before the command writes anything: every
    // write gets EPIPE, deterministically.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut cmd = bob.cmd();
    cmd.arg("id").stdout(writer).stderr(Stdio::piped());
    let out = cmd.output().expect("run beckon id");
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    // And through a shell, as people type it.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "\"{}\" id | head -n 1",
            e2e_support::BECKON.replace('"', "\\\"")
        ))
        .env("BECKON_HOME", &bob.home)
        .output()
        .expect("sh");
    assert_eq!(text(&out.stdout).lines().count(), 1);
    assert!(!text(&out.stderr).contains("panicked"));
}

#[test]
fn completions_and_a_man_page() {
    let bob = Peer::new("bob");
    for shell in ["bash", "zsh", "fish"] {
        let out = bob.ok(&["completions", shell]);
        assert!(out.contains("beckon"), "{shell}: {out}");
        assert!(out.contains("invite"), "{shell} completes subcommands");
    }
    let out = run({
        let mut c = bob.cmd();
        c.args(["completions", "tcsh-or-so"]);
        c
    });
    assert_eq!(out.status.code(), Some(64));
    let man = bob.ok(&["man"]);
    assert!(man.contains(".TH beckon"), "{man}");
    assert!(man.contains("listen"), "the man page lists the subcommands");
}

#[test]
fn errors_under_json_are_one_json_object_on_stdout() {
    let bob = Peer::new("bob");
    // A usage error: the endpoint is missing.
    let out = run({
        let mut c = bob.cmd();
        c.args(["invite", "alice", "--json"]);
        c
    });
    assert_eq!(out.status.code(), Some(64));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {}", text(&out.stdout)));
    assert_eq!(v["exit_code"], 64);
    assert!(v["error"].as_str().unwrap().contains("ENDPOINT"), "{v}");
    // A file error: no identity in this home.
    let empty = tempfile::tempdir().unwrap();
    let out = run({
        let mut c = e2e_support::beckon(&empty.path().join("nobody"));
        c.args(["invite", "alice", "127.0.0.1:9", "--app", "chess", "--json"]);
        c
    });
    assert_eq!(out.status.code(), Some(66), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {}", text(&out.stdout)));
    assert_eq!(v["exit_code"], 66);
    assert!(v["error"].is_string());
    // The message is on stderr too, for people.
    assert!(text(&out.stderr).starts_with("beckon: "));
}

#[test]
fn verbose_shows_the_library_and_quiet_hides_the_banner() {
    let alice = Peer::new("alice");
    let bob = Peer::new("bob");
    alice.add_contact(&bob);
    bob.add_contact(&alice);
    bob.register("chess", &["true"]);
    let (mut listener, addr) = listen(&bob, &["--auto", "decline", "-v"]);
    let out = run({
        let mut c = alice.cmd();
        c.args(["-v", "invite", "bob", &addr, "--app", "chess"]);
        c
    });
    assert_eq!(
        out.status.code(),
        Some(1),
        "declined: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("beckon_tokio"),
        "the inviter's library events: {}",
        text(&out.stderr)
    );
    listener.expect_line("[stderr]", WAIT);
    listener.assert_saw(|l| l.starts_with("[stderr]") && l.contains("beckon_tokio"));
    drop(listener);

    // --quiet: no banner (so the address cannot be read from it: use a
    // port of our own), but the prompt and its answer still show.
    let port = free_port();
    let mut cmd = bob.cmd();
    cmd.args([
        "--quiet",
        "listen",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--auto",
        "decline",
    ]);
    let mut quiet = Proc::spawn(cmd, "bob listen --quiet");
    let addr = format!("127.0.0.1:{port}");
    wait_for_port(&addr);
    let out = run({
        let mut c = alice.cmd();
        c.args(["invite", "bob", &addr, "--app", "chess"]);
        c
    });
    assert_eq!(out.status.code(), Some(1));
    quiet.expect_line("declined the invitation from alice", WAIT);
    quiet.assert_never_saw(|l| l.contains("listening on"));
}

#[test]
fn risky_setups_are_said_when_listening_starts() {
    let bob = Peer::new("bob");
    // No application, and stdin (a pipe) is not a terminal, without --auto.
    let (mut l, _) = listen(&bob, &[]);
    l.expect_line("warning: no application is registered", WAIT);
    l.expect_line(
        "warning: stdin is not a terminal and --auto is not set",
        WAIT,
    );
    drop(l);

    bob.register("chess", &["true"]);
    bob.ok(&["policy", "anyone"]);
    let (mut l, _) = listen(&bob, &["--auto", "accept"]);
    let line = l.expect_line("warning: the policy is anyone and --auto accept", WAIT);
    assert!(line.contains("can launch chess"), "{line}");
    drop(l);

    bob.ok(&["policy", "off"]);
    let (mut l, _) = listen(&bob, &["--auto", "accept"]);
    l.expect_line("warning: the policy is off", WAIT);
    drop(l);

    // A plain setup says nothing of the kind.
    bob.ok(&["policy", "trusted"]);
    let (mut l, _) = listen(&bob, &["--auto", "decline"]);
    let seen = l.drain(Duration::from_millis(500)).to_vec();
    assert!(!seen.iter().any(|s| s.contains("warning:")), "{seen:?}");
}

#[test]
fn a_flood_of_unidentified_connections_is_summed_up() {
    const FLOOD: usize = 12;
    let bob = Peer::new("bob");
    bob.register("chess", &["true"]);
    let (mut l, addr) = listen(&bob, &["--auto", "decline"]);
    for _ in 0..FLOOD {
        drop(TcpStream::connect(&addr).expect("connect"));
    }
    // The summary comes at the end of the window (10 s); a loaded machine
    // may take longer to get there.
    let summary = l.expect_line("before any invitation in the last 10 s", WAIT * 3);
    let one_by_one = l
        .seen
        .iter()
        .filter(|s| s.starts_with("a connection from") && s.contains("before any invitation"))
        .count();
    // At most the first three of each window one by one (the flood may
    // straddle two windows); the rest summed up.
    assert!(
        one_by_one <= 6,
        "{one_by_one} lines one by one: {:?}",
        l.seen
    );
    let summed: usize = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count: {summary}"));
    // The summary counts the whole window, the lines shown included.
    assert!(summed >= FLOOD - 3, "{summary}");
}

#[test]
fn a_listener_whose_stdout_nobody_reads_still_answers() {
    // A pipe nobody drains fills after 64 KiB; each invitation below makes
    // the listener print about 600 bytes, so well before the last one the
    // pipe is full. Before the output had its own writer, the listener
    // then stopped, and inviters failed.
    const INVITERS: usize = 4;
    const EACH: usize = 40;
    let (bob, inviters) = bob_and_inviters(INVITERS);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    let mut cmd = bob.cmd();
    cmd.args([
        "listen",
        "--listen",
        &addr,
        "--auto",
        "decline",
        "--max-prompts",
        "32",
    ])
    .stdout(writer)
    .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn listen");
    drop(cmd);
    wait_for_port(&addr);
    let long = "x".repeat(255);
    let codes: Vec<i32> = std::thread::scope(|s| {
        let handles: Vec<_> = inviters
            .iter()
            .map(|p| {
                let (addr, long) = (&addr, &long);
                s.spawn(move || {
                    (0..EACH)
                        .map(|_| {
                            let out = run({
                                let mut c = p.cmd();
                                c.args(["invite", "bob", addr, "--app", "chess", "-m", long]);
                                c
                            });
                            out.status.code().unwrap_or(-1)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let _ = child.kill();
    let _ = child.wait();
    let mut printed = Vec::new();
    reader.read_to_end(&mut printed).expect("read");
    assert!(
        printed.len() >= 60_000,
        "the pipe filled: {} bytes",
        printed.len()
    );
    let declined = codes.iter().filter(|&&c| c == 1).count();
    assert_eq!(
        declined,
        INVITERS * EACH,
        "every invitation declined (exit 1), whatever stdout did: {codes:?}"
    );
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn wait_for_port(addr: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    while TcpStream::connect(addr).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listening on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_slip_in_a_contact_or_application_name_gets_a_suggestion() {
    let alice = Peer::new("alice");
    let bob = Peer::new("bob");
    alice.add_contact(&bob);
    alice.register("chess", &["true"]);
    let out = run({
        let mut c = alice.cmd();
        c.args(["invite", "Bob", "127.0.0.1:9", "--app", "chess"]);
        c
    });
    assert_eq!(out.status.code(), Some(66));
    assert!(
        text(&out.stderr).contains("no contact named \"Bob\"; did you mean \"bob\"?"),
        "{}",
        text(&out.stderr)
    );
    // An application name is the invitee's business, so a near miss is a
    // note, and the invitation still goes (here, to a closed port: 5).
    let out = run({
        let mut c = alice.cmd();
        c.args(["invite", "bob", "127.0.0.1:9", "--app", "chss"]);
        c
    });
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("application \"chss\" is not registered here; did you mean \"chess\"?"),
        "{}",
        text(&out.stderr)
    );
}
