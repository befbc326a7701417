//! End to end: real `beckon` processes over loopback, each with its own
//! `BECKON_HOME`. Every listener binds 127.0.0.1:0 and prints its address;
//! every process is killed when its guard drops, even when a test fails.

#![cfg(unix)]

mod e2e_support;

use std::fs;
use std::process::Output;
use std::time::{Duration, Instant};

use e2e_support::{
    assert_code, assert_said, bob_and_inviters, code, listen, run, text, Peer, Proc,
};

const WAIT: Duration = Duration::from_secs(20);

/// Alice and Bob know each other; Bob registered chess (`true`).
fn alice_and_bob() -> (Peer, Peer) {
    let alice = Peer::new("alice");
    let bob = Peer::new("bob");
    alice.add_contact(&bob);
    bob.add_contact(&alice);
    bob.register("chess", &["true"]);
    (alice, bob)
}

fn invite(from: &Peer, args: &[&str]) -> Output {
    let mut cmd = from.cmd();
    cmd.arg("invite").args(args);
    run(cmd)
}

/// `from`'s `beckon invite` with `args`, running.
fn spawn_invite(from: &Peer, args: &[&str]) -> Proc {
    let mut cmd = from.cmd();
    cmd.arg("invite").args(args);
    Proc::spawn(cmd, &format!("{} invite", from.name))
}

/// Carol, who knows Bob and whom he knows.
fn carol_and(bob: &Peer) -> Peer {
    let carol = Peer::new("carol");
    carol.add_contact(bob);
    bob.add_contact(&carol);
    carol
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

/// Alice's invitation to Bob at 127.0.0.1:1 (nobody there) to play chess,
/// the data from the file `data`.
fn invite_to_chess_at_port_1_with_data(alice: &Peer, data: &str) -> Output {
    let args = ["bob", "127.0.0.1:1", "--app", "chess", "--data-file", data];
    invite(alice, &args)
}

/// Alice's invitation to Bob at `addr` to play go, the data from the file
/// `data`, with `extra` arguments.
fn invite_to_go(alice: &Peer, addr: &str, data: &std::path::Path, extra: &[&str]) -> Output {
    let data = data.to_str().unwrap();
    let args = ["bob", addr, "--app", "go", "--data-file", data];
    invite(alice, &[&args[..], extra].concat())
}

#[test]
fn accept_launches_the_registered_command_with_env_and_stdin() {
    let (alice, bob) = alice_and_bob();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("launched.txt");
    let script = format!(
        "printf '%s\\n' \"$BECKON_INVITER\" \"$BECKON_INVITER_KEY\" \"$BECKON_FINGERPRINT\" \
         \"$BECKON_APP\" \"$BECKON_MESSAGE\" \"$BECKON_ENDPOINT\" > {0}.part; \
         cat >> {0}.part; mv {0}.part {0}",
        record.display()
    );
    // The data on stdin (`--data stdin`; the default, a file, is in
    // tests/launch.rs and the next test).
    bob.ok(&[
        "app", "register", "go", "--data", "stdin", "--", "sh", "-c", &script,
    ]);
    let (mut listener, addr) = listen(&bob, &["--auto", "accept", "--once"]);
    let data = dir.path().join("data");
    fs::write(&data, b"board=19x19\nkomi=6.5").unwrap();
    let out = invite_to_go(
        &alice,
        &addr,
        &data,
        &["--message", "A game of go?", "--json"],
    );
    assert_code(&out, 0);
    let answer = json(&out);
    assert_eq!(answer["outcome"], "accepted");
    assert_eq!(answer["responder"]["fingerprint"], bob.fingerprint.as_str());
    assert_eq!(answer["responder"]["contact"], "bob");
    assert!(bob
        .card
        .starts_with(answer["responder"]["key"].as_str().unwrap()));

    // --once: the listener exits after the launched command ended.
    assert_eq!(listener.wait(WAIT), 0, "{:#?}", listener.seen);
    let launched = fs::read_to_string(&record).expect("the command ran");
    let lines: Vec<&str> = launched.lines().collect();
    assert_eq!(lines[0], "alice", "{launched}");
    assert!(alice.card.starts_with(lines[1]), "{launched}");
    assert_eq!(lines[2], alice.fingerprint);
    let go_id = {
        let out = bob.ok(&["app", "list"]);
        out.lines()
            .find(|l| l.starts_with("go "))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .to_owned()
    };
    assert_eq!(lines[3], go_id);
    assert_eq!(lines[4], "A game of go?");
    assert!(lines[5].starts_with("127.0.0.1:"), "{launched}");
    assert_eq!(&lines[6..], ["board=19x19", "komi=6.5"]);
    listener
        .assert_saw(|l| l.contains("invitation from alice (") && l.contains(&alice.fingerprint));
}

#[test]
fn by_default_the_data_is_a_private_file_and_the_command_keeps_the_terminal() {
    let (alice, bob) = alice_and_bob();
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("launched.txt");
    let script = format!(
        "cp \"$BECKON_DATA_FILE\" {0}.data; echo \"$BECKON_DATA_FILE\" > {0}.part; mv {0}.part {0}",
        record.display()
    );
    bob.ok(&["app", "register", "go", "--", "sh", "-c", &script]);
    let listed = bob.ok(&["app", "list", "--json"]);
    let apps: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let go = apps
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "go")
        .unwrap();
    assert_eq!(go["data"], "file");
    assert!(go["command"][0].as_str().unwrap().starts_with('/'), "{go}");
    let (mut listener, addr) = listen(&bob, &["--auto", "accept", "--once"]);
    let data = dir.path().join("data");
    fs::write(&data, b"board=19x19").unwrap();
    let out = invite_to_go(&alice, &addr, &data, &[]);
    assert_code(&out, 0);
    assert_eq!(listener.wait(WAIT), 0, "{:#?}", listener.seen);
    let path = fs::read_to_string(&record).expect("the command ran");
    assert_eq!(
        fs::read(dir.path().join("launched.txt.data")).unwrap(),
        b"board=19x19"
    );
    assert!(
        !std::path::Path::new(path.trim()).exists(),
        "the data file is removed after the command exits"
    );
}

#[test]
fn app_register_refuses_a_command_it_cannot_run_and_stores_the_absolute_path() {
    let bob = Peer::new("bob");
    let dir = tempfile::tempdir().unwrap();
    let out = run({
        let mut c = bob.cmd();
        c.args(["app", "register", "chess", "--", "no-such-chess-program"]);
        c
    });
    assert_eq!(code(&out), 66);
    assert_said(&out, "no-such-chess-program");
    let plain = dir.path().join("chess.sh");
    fs::write(&plain, "#!/bin/sh\n").unwrap();
    let out = run({
        let mut c = bob.cmd();
        c.args(["app", "register", "chess", "--"]).arg(&plain);
        c
    });
    assert_eq!(code(&out), 65);
    assert_said(&out, "not an executable");
    bob.ok(&["app", "register", "chess", "--", "true"]);
    let listed = bob.ok(&["app", "list", "--json"]);
    let apps: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let command = apps[0]["command"][0].as_str().unwrap().to_owned();
    assert!(
        command.starts_with('/') && command.ends_with("/true"),
        "{command}"
    );
    // A slip in a name to remove gets a suggestion.
    let out = run({
        let mut c = bob.cmd();
        c.args(["app", "remove", "chss"]);
        c
    });
    assert_eq!(code(&out), 66);
    assert!(text(&out.stderr).contains("did you mean \"chess\""));
}

#[test]
fn decline() {
    let (alice, bob) = alice_and_bob();
    let (_listener, addr) = listen(&bob, &["--auto", "decline"]);
    let out = invite(&alice, &["bob", &addr, "--app", "chess"]);
    assert_code(&out, 1);
    assert!(text(&out.stdout).contains(&format!("declined by bob ({})", bob.fingerprint)));
}

#[test]
fn a_person_answers_on_the_terminal_with_a_message() {
    let (alice, bob) = alice_and_bob();
    let (mut listener, addr) = listen(&bob, &[]);
    let mut inviter = spawn_invite(
        &alice,
        &["bob", &addr, "--app", "chess", "-m", "Now?", "--json"],
    );
    listener.expect_line("invitation from alice", WAIT);
    listener.expect_line("message:     \"Now?\"", WAIT);
    listener.expect_line("accept? [y/n]", WAIT);
    listener.answer("maybe");
    listener.expect_line("answer y or n", WAIT);
    listener.type_line("n not now, tomorrow");
    listener.expect_line("declined the invitation from alice", WAIT);
    assert_eq!(inviter.wait(WAIT), 1);
    let out = inviter.seen.iter().find(|l| l.starts_with('{')).unwrap();
    let answer: serde_json::Value = serde_json::from_str(out).unwrap();
    assert_eq!(answer["outcome"], "declined");
    assert_eq!(answer["message"], "not now, tomorrow");
}

#[test]
fn an_untrusted_inviter_is_refused() {
    let (_alice, bob) = alice_and_bob();
    let carol = Peer::new("carol");
    carol.add_contact(&bob);
    let (mut listener, addr) = listen(&bob, &["--auto", "accept"]);
    let out = invite(&carol, &["bob", &addr, "--app", "chess"]);
    assert_code(&out, 3);
    assert!(text(&out.stderr).contains("not a trusted contact"));
    listener.expect_line(
        &format!("refused an invitation from unknown ({})", carol.fingerprint),
        WAIT,
    );
    // With the policy `anyone` (changed while listening), Carol gets in.
    bob.ok(&["policy", "anyone"]);
    let out = invite(&carol, &["bob", &addr, "--app", "chess"]);
    assert_code(&out, 0);
    listener.expect_line(
        &format!("invitation from unknown ({})", carol.fingerprint),
        WAIT,
    );
}

#[test]
fn a_blocked_contact_is_refused_from_the_next_invitation_on() {
    let (alice, bob) = alice_and_bob();
    let (mut listener, addr) = listen(&bob, &["--auto", "accept"]);
    assert_eq!(code(&invite(&alice, &["bob", &addr, "--app", "chess"])), 0);
    // Blocked in another "terminal" while the listener runs.
    bob.ok(&["contact", "block", "alice"]);
    let out = invite(&alice, &["bob", &addr, "--app", "chess", "--json"]);
    assert_code(&out, 3);
    let answer = json(&out);
    assert_eq!(answer["outcome"], "refused");
    assert_eq!(answer["refusal"]["reason"], "blocked");
    assert_eq!(answer["refusal"]["authenticated"], true);
    listener.expect_line("refused an invitation from alice", WAIT);
    bob.ok(&["contact", "allow", "alice"]);
    assert_eq!(code(&invite(&alice, &["bob", &addr, "--app", "chess"])), 0);
}

#[test]
fn invitations_off_are_refused() {
    let (alice, bob) = alice_and_bob();
    let (_listener, addr) = listen(&bob, &["--auto", "accept"]);
    bob.ok(&["policy", "off"]);
    let out = invite(&alice, &["bob", &addr, "--app", "chess", "--json"]);
    // Refused in clear: forgeable, so an exit code of its own, never 3.
    assert_code(&out, 6);
    let answer = json(&out);
    assert_eq!(answer["refusal"]["reason"], "invitations_off");
    // Refused in clear, before the handshake: said so, and no responder.
    assert_eq!(answer["refusal"]["authenticated"], false);
    assert!(answer["responder"].is_null());
}

#[test]
fn an_application_not_registered_is_refused() {
    let (alice, bob) = alice_and_bob();
    let (mut listener, addr) = listen(&bob, &["--auto", "accept"]);
    let out = invite(&alice, &["bob", &addr, "--app", "checkers"]);
    assert_code(&out, 3);
    assert!(text(&out.stderr).contains("not registered"));
    listener.expect_line("refused an invitation from alice", WAIT);
    listener.assert_never_saw(|l| l.starts_with("invitation from"));
}

#[test]
fn a_contact_mismatch_exits_4_and_the_impostor_never_sees_a_prompt() {
    let (alice, _bob) = alice_and_bob();
    let carol = Peer::new("carol");
    // Carol would accept anything from anyone.
    carol.ok(&["policy", "anyone"]);
    carol.register("chess", &["true"]);
    let (mut listener, addr) = listen(&carol, &["--auto", "accept"]);
    let out = invite(
        &alice,
        &[
            "bob",
            &addr,
            "--app",
            "chess",
            "-m",
            "for Bob only",
            "--json",
        ],
    );
    assert_code(&out, 4);
    let answer = json(&out);
    assert_eq!(answer["outcome"], "contact_mismatch");
    assert_eq!(
        answer["responder"]["fingerprint"],
        carol.fingerprint.as_str()
    );
    listener.expect_line("closed before any invitation", WAIT);
    listener.drain(Duration::from_millis(300));
    listener.assert_never_saw(|l| l.starts_with("invitation from") || l.contains("for Bob only"));
}

#[test]
fn invite_any_reports_who_answered() {
    let (alice, bob) = alice_and_bob();
    let (_listener, addr) = listen(&bob, &["--auto", "accept"]);
    let out = invite(&alice, &["--any", &addr, "--app", "chess", "--json"]);
    assert_code(&out, 0);
    let answer = json(&out);
    assert_eq!(answer["responder"]["fingerprint"], bob.fingerprint.as_str());
    assert_eq!(answer["responder"]["contact"], "bob");
    // A responder Alice does not know is reported by its key.
    let dave = Peer::new("dave");
    dave.ok(&["policy", "anyone"]);
    dave.register("chess", &["true"]);
    let (_dave_listener, dave_addr) = listen(&dave, &["--auto", "accept"]);
    let out = invite(&alice, &["--any", &dave_addr, "--app", "chess"]);
    assert_code(&out, 0);
    assert_eq!(
        text(&out.stdout).trim(),
        format!("accepted by unknown ({})", dave.fingerprint)
    );
}

#[test]
fn ctrl_c_on_invite_withdraws_the_prompt() {
    let (alice, bob) = alice_and_bob();
    let (mut listener, addr) = listen(&bob, &[]);
    let mut inviter = spawn_invite(&alice, &["bob", &addr, "--app", "chess"]);
    listener.expect_line("invitation from alice", WAIT);
    inviter.expect_line("waiting for bob", WAIT);
    inviter.interrupt();
    listener.expect_line("cancelled: alice", WAIT);
    assert_eq!(inviter.wait(WAIT), 130, "{:#?}", inviter.seen);
    inviter.assert_saw(|l| l.contains("cancelled: the invitation was withdrawn"));
}

#[test]
fn sigterm_and_sighup_on_invite_cancel_like_ctrl_c() {
    let (alice, bob) = alice_and_bob();
    let (mut listener, addr) = listen(&bob, &[]);
    for (signal, exit) in [("TERM", 143), ("HUP", 129)] {
        let mut inviter = spawn_invite(&alice, &["bob", &addr, "--app", "chess"]);
        listener.expect_line("invitation from alice", WAIT);
        inviter.expect_line("waiting for bob", WAIT);
        inviter.signal(signal);
        listener.expect_line("cancelled: alice", WAIT);
        assert_eq!(inviter.wait(WAIT), exit, "{signal}: {:#?}", inviter.seen);
    }
}

#[test]
fn an_unanswered_invitation_expires() {
    let (alice, bob) = alice_and_bob();
    let (mut listener, addr) = listen(&bob, &["--answer-within", "2s"]);
    // Alice waits 5 s (and the grace): Expired must come from Bob's 2 s
    // deadline, before she gives up on her own with "timeout". That is an
    // order of two deadlines, not a speed: how soon after the 2 s it comes
    // is for benchmarks. (A slow machine only makes it later, so it is
    // never before the 2 s.)
    let started = Instant::now();
    let out = invite(
        &alice,
        &["bob", &addr, "--app", "chess", "--wait", "5s", "--json"],
    );
    let took = started.elapsed();
    assert_code(&out, 2);
    assert_eq!(json(&out)["outcome"], "expired");
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    listener.expect_line("expired: nobody answered in time", WAIT);
}

#[test]
fn usage_errors_and_unreachable_endpoints() {
    let (alice, _bob) = alice_and_bob();
    // Usage errors are 64.
    for args in [
        vec!["bob"],
        vec!["--any", "a:1", "b:2", "--app", "chess"],
        vec!["bob", "127.0.0.1:1"],
        vec!["bob", "127.0.0.1:99999", "--app", "chess"],
        vec!["bob", "::1:7464", "--app", "chess"],
    ] {
        let out = invite(&alice, &args);
        assert_eq!(code(&out), 64, "{args:?}: {}", text(&out.stderr));
    }
    let out = invite(&alice, &["bob", "::1:7464", "--app", "chess"]);
    assert_said(&out, "ambiguous");
    let out = invite(&alice, &["bob", "127.0.0.1:99999", "--app", "chess"]);
    assert_said(&out, "port 99999 is over 65535");
    // An unknown contact and a missing data file are missing input, 66.
    let out = invite(&alice, &["nobody", "127.0.0.1:1", "--app", "chess"]);
    assert_code(&out, 66);
    let out = invite_to_chess_at_port_1_with_data(&alice, "/nonexistent/data");
    assert_code(&out, 66);
    // Over a limit is bad data, 65: a long message, endless data.
    let long = "x".repeat(256);
    assert_eq!(
        code(&invite(
            &alice,
            &["bob", "127.0.0.1:1", "--app", "c", "-m", &long]
        )),
        65
    );
    let out = invite_to_chess_at_port_1_with_data(&alice, "/dev/zero");
    assert_code(&out, 65);
    assert_said(&out, "more than 16384 bytes");
    // Nothing listening: 5.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = invite(
        &alice,
        &["bob", &format!("127.0.0.1:{port}"), "--app", "chess"],
    );
    assert_code(&out, 5);
    assert!(text(&out.stderr).contains("could not connect"));
    // Something else listening: 5, and said plainly.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = server.local_addr().unwrap().to_string();
    let answering = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut conn, _) = server.accept().unwrap();
        let mut buf = [0u8; 64];
        let _ = conn.read(&mut buf);
        let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    let out = invite(&alice, &["--any", &other, "--app", "chess"]);
    answering.join().unwrap();
    assert_code(&out, 5);
    assert_said(&out, &format!("not a Beckon listener at {other}"));
    // No identity: 66.
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = e2e_support::beckon(dir.path());
    cmd.args(["invite", "--any", "127.0.0.1:1", "--app", "chess"]);
    assert_eq!(code(&run(cmd)), 66);
}

/// 200 invitations from 20 concurrent inviter processes (10 each, one
/// after the other), all accepted by one `--auto accept` listener. Prints
/// the throughput and the latency per invitation, measured from starting
/// the `beckon invite` process to its exit. For meaningful figures run it
/// optimised (debug builds spend most of the time in unoptimised
/// cryptography):
/// `cargo test --release -p beckon-tokio --test e2e load -- --nocapture`.
#[test]
fn load_200_invitations_from_20_concurrent_inviters() {
    const INVITERS: usize = 20;
    const EACH: usize = 10;
    let (bob, inviters) = bob_and_inviters(INVITERS);
    // 20 inviters can have 20 invitations waiting at once, more than the
    // default bound of 16 pending prompts (beyond which the listener
    // rightly answers Busy): raise it so every invitation gets through.
    let (mut listener, addr) = listen(&bob, &["--auto", "accept", "--max-prompts", "32"]);
    let started = Instant::now();
    let latencies: Vec<Vec<(Duration, i32)>> = std::thread::scope(|s| {
        let handles: Vec<_> = inviters
            .iter()
            .map(|p| {
                let addr = addr.clone();
                s.spawn(move || {
                    (0..EACH)
                        .map(|n| {
                            let t = Instant::now();
                            let out = invite(
                                p,
                                &["bob", &addr, "--app", "chess", "-m", &format!("#{n}")],
                            );
                            if code(&out) != 0 {
                                eprintln!("invitation failed: {}", text(&out.stderr));
                            }
                            (t.elapsed(), code(&out))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    let mut all: Vec<(Duration, i32)> = latencies.into_iter().flatten().collect();
    let failures: Vec<i32> = all.iter().map(|(_, c)| *c).filter(|&c| c != 0).collect();
    assert!(failures.is_empty(), "exit codes other than 0: {failures:?}");
    assert_eq!(all.len(), INVITERS * EACH);
    // Every one reached the listener and was accepted there.
    let deadline = Instant::now() + WAIT;
    let accepted = |seen: &[String]| {
        seen.iter()
            .filter(|l| l.starts_with("accepted the invitation from inviter"))
            .count()
    };
    while accepted(&listener.seen) < INVITERS * EACH && Instant::now() < deadline {
        listener.drain(Duration::from_millis(100));
    }
    assert_eq!(accepted(&listener.seen), INVITERS * EACH);
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p).ceil() as usize).min(all.len()) - 1].0;
    println!(
        "load: {} invitations from {INVITERS} concurrent inviter processes in {:.2} s = {:.0} invitations/s; \
         latency per invitation (process start to exit) p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        all.last().unwrap().0.as_secs_f64() * 1e3,
    );
}

#[test]
fn a_queued_invitation_withdrawn_before_its_turn_is_reported() {
    let (alice, bob) = alice_and_bob();
    let carol = carol_and(&bob);
    let (mut listener, addr) = listen(&bob, &[]);
    let mut first = spawn_invite(&alice, &["bob", &addr, "--app", "chess"]);
    listener.expect_line("invitation from alice", WAIT);
    // Carol's invitation waits behind Alice's prompt; she gives up.
    let mut second = spawn_invite(&carol, &["bob", &addr, "--app", "chess"]);
    second.expect_line("waiting for bob", WAIT);
    second.interrupt();
    assert_eq!(second.wait(WAIT), 130, "{:#?}", second.seen);
    listener.expect_line("cancelled while waiting behind another prompt", WAIT);
    listener.answer("y");
    assert_eq!(first.wait(WAIT), 0, "{:#?}", first.seen);
    listener.assert_never_saw(|l| l.starts_with("invitation from carol"));
}

#[test]
fn the_demo_tells_its_three_stories_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = e2e_support::beckon(dir.path());
    cmd.arg("demo");
    // Its own steps are bounded (it fails a step that takes too long), so
    // a demo that ends and exits 0 did not hang; how fast is not checked.
    let out = run(cmd);
    assert_eq!(code(&out), 0, "{}{}", text(&out.stdout), text(&out.stderr));
    let stdout = text(&out.stdout);
    for needle in [
        "ACCEPTED by bob",
        "[chess] message      \"Fancy a game?\"",
        "REFUSED",
        "CONTACT MISMATCH",
        "All three stories went as they should",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not in:\n{stdout}");
    }
}

#[test]
fn a_port_in_use_is_unavailable_and_ctrl_c_on_listen_is_130() {
    let (_alice, bob) = alice_and_bob();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut cmd = bob.cmd();
    cmd.args(["listen", "--listen", &addr, "--auto", "accept"]);
    let out = run(cmd);
    assert_code(&out, 69);
    assert!(text(&out.stderr).contains(&addr), "{}", text(&out.stderr));

    let (mut listener, _addr) = listen(&bob, &["--auto", "accept"]);
    listener.interrupt();
    assert_eq!(listener.wait(WAIT), 130, "{:#?}", listener.seen);
}

#[test]
fn a_listener_stopped_with_prompts_up_tells_every_waiting_inviter() {
    for (signal, exit_code, name) in [("TERM", 143, "SIGTERM"), ("INT", 130, "Ctrl-C")] {
        let (alice, bob) = alice_and_bob();
        let carol = carol_and(&bob);
        let (mut listener, addr) = listen(&bob, &[]);
        // Alice's invitation is on screen, Carol's waits behind it.
        let mut from_alice = spawn_invite(&alice, &["bob", &addr, "--app", "chess", "--json"]);
        listener.expect_line("invitation from alice", WAIT);
        let mut from_carol = spawn_invite(&carol, &["bob", &addr, "--app", "chess"]);
        from_carol.expect_line("waiting for bob", WAIT);
        listener.signal(signal);
        assert_eq!(listener.wait(WAIT), exit_code, "{:#?}", listener.seen);
        listener.assert_saw(|l| l.starts_with(&format!("stopped listening ({name})")));
        assert_eq!(from_carol.wait(WAIT), 1, "{:#?}", from_carol.seen);
        from_carol.assert_saw(|l| l.contains("bob (SHA256:") && l.contains("stopped listening"));
        assert_eq!(from_alice.wait(WAIT), 1, "{:#?}", from_alice.seen);
        let line = from_alice
            .seen
            .iter()
            .find(|l| l.starts_with('{'))
            .expect("the JSON line");
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["outcome"], "error_response", "{v}");
        assert_eq!(v["error_code"], 0x8007_0426_u32, "{v}");
        assert_eq!(v["message"], "stopped listening", "{v}");
    }
}

#[test]
fn accepted_means_launched_and_a_launch_that_fails_says_why_on_both_sides() {
    let (alice, bob) = alice_and_bob();
    let dir = tempfile::tempdir().unwrap();
    let not_executable = dir.path().join("chess.sh");
    fs::write(&not_executable, "#!/bin/sh\nexit 0\n").unwrap();
    for (command, error_code, reason) in [
        (
            dir.path().join("no-such-program").display().to_string(),
            0x8007_0002_u32,
            "its program was not found",
        ),
        (
            not_executable.display().to_string(),
            0x8007_0005,
            "permission denied",
        ),
    ] {
        // The apps file as a hand edit or an older beckon could leave it.
        bob.ok(&["app", "remove", "chess"]);
        bob.ok(&["app", "register", "chess", "--", "true"]);
        let apps = bob.home.join("apps");
        let before = fs::read_to_string(&apps).unwrap();
        let registered = before
            .lines()
            .find(|l| l.starts_with("command = "))
            .unwrap()
            .to_owned();
        let after = before.replace(
            &registered,
            &format!("command = {}", serde_json::json!([command])),
        );
        assert_ne!(before, after);
        fs::write(&apps, after).unwrap();
        let (mut listener, addr) = listen(&bob, &["--auto", "accept"]);
        let out = invite(&alice, &["bob", &addr, "--app", "chess", "--json"]);
        assert_code(&out, 1);
        let v = json(&out);
        assert_eq!(v["outcome"], "error_response", "{v}");
        assert_eq!(v["error_code"], error_code, "{v}");
        assert!(v["message"].as_str().unwrap().contains(reason), "{v}");
        let line = listener.expect_line("could not launch chess", WAIT);
        assert!(line.contains(&format!("{error_code:#010x}")), "{line}");
        listener.assert_never_saw(|l| l.contains("accepted the invitation"));
    }
}
