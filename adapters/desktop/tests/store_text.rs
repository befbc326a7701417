//! Files people edit by hand, through the real `beckon` binary: a UTF-8
//! byte order mark, Windows line ends and extra spaces work; a missing
//! final newline, a line after `end` and an empty file are refused with
//! the file, the line and what to do, and left as they are; `beckon policy
//! WORD` replaces a broken policy file; a listener whose files break
//! while it runs refuses every invitation and says so once. And the
//! contact commands that take names: `show`, `rename`, "did you mean",
//! `--json`.

mod e2e_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use beckon_core::Identity;
use e2e_support::{beckon, code, ok, run, text, Peer};

fn card(n: u8) -> String {
    let key = Identity::from_seed(&[n; 32]).public_key();
    key.to_openssh(&format!("peer{n}")).to_string()
}

fn fingerprint(n: u8) -> String {
    Identity::from_seed(&[n; 32])
        .public_key()
        .fingerprint()
        .to_string()
}

/// `beckon ARGS` in `home`.
fn beckon_in(home: &Path, args: &[&str]) -> Output {
    let mut cmd = beckon(home);
    cmd.args(args);
    run(cmd)
}

fn ok_in(home: &Path, args: &[&str]) -> String {
    let mut cmd = beckon(home);
    cmd.args(args);
    ok(cmd)
}

/// A home with the contacts peer1 to peer3, the applications chess and go,
/// and the policy `anyone`, all written by `beckon`.
fn populated_home() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    ok_in(&home, &["init", "--nickname", "me"]);
    for n in 1..=3u8 {
        ok_in(&home, &["contact", "add", &format!("peer{n}"), &card(n)]);
    }
    for app in ["chess", "go"] {
        ok_in(&home, &["app", "register", app, "--", "true"]);
    }
    ok_in(&home, &["policy", "anyone"]);
    (dir, home)
}

/// Each list file, and a command that reads it and says what it holds.
const READERS: [(&str, &[&str], &str); 3] = [
    ("contacts", &["contact", "list"], "peer3"),
    ("apps", &["app", "list"], "go"),
    ("policy", &["policy"], "anyone"),
];

/// The command fails with 78, naming `file` at `line`, with `advice` in its
/// message, and leaves the file as it was.
fn refused(home: &Path, file: &str, args: &[&str], line: usize, advice: &str) {
    let path = home.join(file);
    let before = fs::read(&path).unwrap();
    let out = beckon_in(home, args);
    let stderr = text(&out.stderr);
    assert_eq!(code(&out), 78, "{file}, {args:?}: {stderr}");
    let named = format!("{}:{line}: ", path.display());
    assert!(stderr.contains(&named), "{named:?} not in {stderr}");
    assert!(stderr.contains(advice), "{advice:?} not in {stderr}");
    assert_eq!(fs::read(&path).unwrap(), before, "{file} was rewritten");
}

#[test]
fn a_byte_order_mark_windows_line_ends_and_extra_spaces_are_read_as_meant() {
    let (_dir, home) = populated_home();
    for (file, args, shows) in READERS {
        let path = home.join(file);
        let good = fs::read_to_string(&path).unwrap();
        let variants = [
            format!("\u{feff}{good}"),
            good.replace('\n', "\r\n"),
            format!("\u{feff}{}", good.replace('\n', "\r\n")),
        ];
        for variant in variants {
            fs::write(&path, &variant).unwrap();
            let out = ok_in(&home, args);
            assert!(out.contains(shows), "{file}: {out}");
        }
        fs::write(&path, &good).unwrap();
    }
    // Words of a contact line apart by several spaces or tabs.
    let path = home.join("contacts");
    let spaced = format!("peer7 \t allowed\t\t{}  \nend\n", card(7));
    fs::write(&path, spaced).unwrap();
    let out = ok_in(&home, &["contact", "list"]);
    assert!(
        out.contains("peer7") && out.contains(&fingerprint(7)),
        "{out}"
    );
    // And a command that rewrites it writes it the usual way.
    ok_in(&home, &["contact", "block", "peer7"]);
    let written = fs::read_to_string(&path).unwrap();
    let line = format!("peer7 blocked {}", card(7));
    assert!(written.lines().any(|l| l == line), "{written}");
}

#[test]
fn a_missing_final_newline_is_refused_with_what_to_add() {
    let (_dir, home) = populated_home();
    for (file, args, shows) in READERS {
        let path = home.join(file);
        let good = fs::read_to_string(&path).unwrap();
        let cut = good.strip_suffix('\n').unwrap();
        fs::write(&path, cut).unwrap();
        let last = cut.lines().count();
        refused(&home, file, args, last, "has no newline after it: add one");
        // Doing what it says works.
        fs::write(&path, format!("{cut}\n")).unwrap();
        assert!(ok_in(&home, args).contains(shows));
    }
}

#[test]
fn a_line_after_end_is_refused_with_where_to_move_end() {
    let (_dir, home) = populated_home();
    let appended = [
        ("contacts", format!("peer4 allowed {}\n", card(4)), "peer4"),
        (
            "apps",
            "[tetris]\nid = 00000000-0000-0000-0000-000000000001\ncommand = [\"true\"]\n".into(),
            "tetris",
        ),
        ("policy", "trusted\n".into(), "trusted"),
    ];
    for ((file, args, _), (_, extra, shows)) in READERS.iter().zip(appended) {
        let path = home.join(file);
        let good = fs::read_to_string(&path).unwrap();
        let lines = good.lines().count();
        fs::write(&path, format!("{good}{extra}")).unwrap();
        let advice =
            format!("comes after the final `end` line (line {lines}): move `end` below it");
        refused(&home, file, args, lines + 1, &advice);
        // Moving `end` below it works (for the policy, the line is then a
        // second policy, named as such).
        let moved = format!("{}{extra}end\n", good.strip_suffix("end\n").unwrap());
        fs::write(&path, moved).unwrap();
        if *file == "policy" {
            refused(&home, file, args, lines, "a second policy line");
        } else {
            assert!(ok_in(&home, args).contains(shows));
        }
        fs::write(&path, &good).unwrap();
    }
}

#[test]
fn an_empty_file_is_refused_with_how_to_empty_it_properly() {
    let (_dir, home) = populated_home();
    for (file, args, _) in READERS {
        fs::write(home.join(file), "").unwrap();
        let advice = if file == "policy" {
            "the file is empty: write it again with `beckon policy trusted`"
        } else {
            "the file is empty. If it should list nothing, delete it or write the single line `end`"
        };
        refused(&home, file, args, 1, advice);
        // A byte order mark alone is as empty.
        fs::write(home.join(file), "\u{feff}").unwrap();
        refused(&home, file, args, 1, advice);
    }
    // Doing what it says works.
    fs::write(home.join("contacts"), "end\n").unwrap();
    assert!(ok_in(&home, &["contact", "list"]).contains("no contacts yet"));
    fs::remove_file(home.join("apps")).unwrap();
    ok_in(&home, &["app", "list"]);
    ok_in(&home, &["policy", "trusted"]);
    assert_eq!(ok_in(&home, &["policy"]), "trusted\n");
}

#[test]
fn a_file_without_end_says_to_add_it_or_restore_it() {
    let (_dir, home) = populated_home();
    for (file, args, _) in READERS {
        let path = home.join(file);
        let good = fs::read_to_string(&path).unwrap();
        let cut = good.strip_suffix("end\n").unwrap();
        fs::write(&path, cut).unwrap();
        let advice = "If you edited it by hand, add a last line `end`; otherwise it was cut short";
        refused(&home, file, args, cut.lines().count() + 1, advice);
        fs::write(&path, &good).unwrap();
    }
}

#[test]
fn bytes_that_are_not_utf8_say_to_save_as_utf8() {
    let (_dir, home) = populated_home();
    let path = home.join("contacts");
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes.len() - "end\n".len();
    bytes.splice(at..at, b"caf\xe9 allowed x\n".iter().copied());
    let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    fs::write(&path, bytes).unwrap();
    refused(
        &home,
        "contacts",
        &["contact", "list"],
        line,
        "save the file as UTF-8",
    );
}

#[test]
fn no_contact_is_named_unknown_or_has_control_characters() {
    let (_dir, home) = populated_home();
    for name in ["unknown", "Unknown", "UNKNOWN"] {
        let out = beckon_in(&home, &["contact", "add", name, &card(5)]);
        assert_eq!(code(&out), 65, "{name}");
        assert!(
            text(&out.stderr).contains("may not be named"),
            "{}",
            text(&out.stderr)
        );
        let out = beckon_in(&home, &["contact", "rename", "peer1", name]);
        assert_eq!(code(&out), 65, "{name}");
    }
    for name in [
        "bell\u{7}",
        "tab\tname",
        "new\nline",
        "rtl\u{202e}name",
        "zero\u{200b}width",
        "esc\u{1b}[31m",
    ] {
        let out = beckon_in(&home, &["contact", "add", name, &card(5)]);
        assert_eq!(code(&out), 65, "{name:?}: {}", text(&out.stderr));
    }
    // Nor in the file, by hand.
    let path = home.join("contacts");
    let good = fs::read_to_string(&path).unwrap();
    let lines = good.lines().count();
    let bad = good.replacen("end\n", &format!("unknown allowed {}\nend\n", card(5)), 1);
    fs::write(&path, bad).unwrap();
    refused(
        &home,
        "contacts",
        &["contact", "list"],
        lines,
        "may not be named \"unknown\"",
    );
}

#[test]
fn policy_word_replaces_a_broken_policy_file_and_everything_else_fails_closed() {
    let (_dir, home) = populated_home();
    let path = home.join("policy");
    let broken = "# by hand\neveryone\nend\n";
    fs::write(&path, broken).unwrap();
    // Reading it: refused, naming the line, the file left alone.
    refused(
        &home,
        "policy",
        &["policy"],
        2,
        "unknown policy \"everyone\"",
    );
    refused(
        &home,
        "policy",
        &["policy", "--json"],
        2,
        "expected off, trusted or anyone",
    );
    refused(
        &home,
        "policy",
        &["listen", "--listen", "127.0.0.1:0"],
        2,
        "everyone",
    );
    // Writing it: replaced, and said so.
    let out = beckon_in(&home, &["policy", "trusted"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "policy: trusted\n");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("replaced the policy file, which did not parse"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}:2:", path.display())),
        "{stderr}"
    );
    assert_eq!(ok_in(&home, &["policy"]), "trusted\n");
    // Cut short, empty, or anything else: the same.
    for broken in ["trus", "", "\u{feff}anyone", "anyone\nend\nmore\n"] {
        fs::write(&path, broken).unwrap();
        let out = beckon_in(&home, &["policy", "off", "--json"]);
        assert_eq!(code(&out), 0, "{broken:?}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "{\"policy\":\"off\"}\n");
        assert_eq!(ok_in(&home, &["policy"]), "off\n");
    }
    // A policy file that parses is replaced without a note.
    let out = beckon_in(&home, &["policy", "anyone"]);
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn policy_json_is_one_object_with_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    // No file yet: the default.
    assert_eq!(
        ok_in(&home, &["policy", "--json"]),
        "{\"policy\":\"trusted\"}\n"
    );
    for word in ["off", "trusted", "anyone"] {
        let out = ok_in(&home, &["policy", word, "--json"]);
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value, serde_json::json!({ "policy": word }));
        let shown: serde_json::Value =
            serde_json::from_str(&ok_in(&home, &["policy", "--json"])).unwrap();
        assert_eq!(shown, value);
    }
    let help = ok_in(&home, &["policy", "--help"]);
    assert!(
        help.contains("one field: policy (`off`, `trusted` or `anyone`)"),
        "{help}"
    );
}

#[test]
fn contact_list_json_is_one_array_with_documented_fields() {
    let (_dir, home) = populated_home();
    ok_in(&home, &["contact", "block", "peer2"]);
    let out = ok_in(&home, &["contact", "list", "--json"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 3);
    for (i, c) in list.iter().enumerate() {
        let n = i as u8 + 1;
        let key = Identity::from_seed(&[n; 32]).public_key();
        assert_eq!(
            c,
            &serde_json::json!({
                "name": format!("peer{n}"),
                "key": key.to_string(),
                "comment": format!("peer{n}"),
                "fingerprint": fingerprint(n),
                "state": if n == 2 { "blocked" } else { "allowed" },
            })
        );
    }
    let help = ok_in(&home, &["contact", "list", "--help"]);
    for field in ["name (", "key (", "comment (", "fingerprint (", "state ("] {
        assert!(help.contains(field), "{field} not in {help}");
    }
    // No contacts: an empty array, not a sentence.
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        ok_in(&dir.path().join("h"), &["contact", "list", "--json"]),
        "[]\n"
    );
}

#[test]
fn contact_show_prints_the_card_fingerprint_and_state() {
    let (_dir, home) = populated_home();
    ok_in(&home, &["contact", "block", "peer3"]);
    let out = ok_in(&home, &["contact", "show", "peer3"]);
    assert!(out.contains(&format!("card:        {}", card(3))), "{out}");
    assert!(
        out.contains(&format!("fingerprint: {}", fingerprint(3))),
        "{out}"
    );
    assert!(out.contains("state:       blocked"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&ok_in(&home, &["contact", "show", "peer1", "--json"])).unwrap();
    assert_eq!(json["name"], "peer1");
    assert_eq!(json["fingerprint"], fingerprint(1));
    assert_eq!(json["state"], "allowed");
    assert_eq!(
        format!(
            "{} {}",
            json["key"].as_str().unwrap(),
            json["comment"].as_str().unwrap()
        ),
        card(1)
    );
}

#[test]
fn contact_rename_keeps_key_and_state_and_refuses_taken_or_bad_names() {
    let (_dir, home) = populated_home();
    ok_in(&home, &["contact", "block", "peer2"]);
    let out = ok_in(&home, &["contact", "rename", "peer2", "bob"]);
    assert_eq!(
        out,
        format!("renamed contact peer2 to bob {}\n", fingerprint(2))
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok_in(&home, &["contact", "show", "bob", "--json"])).unwrap();
    assert_eq!(json["fingerprint"], fingerprint(2));
    assert_eq!(json["state"], "blocked");
    assert_eq!(json["comment"], "peer2");
    let contacts = fs::read_to_string(home.join("contacts")).unwrap();
    assert!(!contacts.contains("\npeer2 "), "{contacts}");
    // Only the case changed: a rename too.
    ok_in(&home, &["contact", "rename", "bob", "Bob"]);
    let before = fs::read_to_string(home.join("contacts")).unwrap();
    for (old, new, says) in [
        ("Bob", "peer1", "already have a contact named \"peer1\""),
        ("Bob", "Bob", "already named"),
        ("Bob", "-x", "may only have"),
        ("Bob", "two words", "may only have"),
        ("Bob", "unknown", "may not be named"),
        ("nobody", "x", "no contact named \"nobody\""),
    ] {
        let out = beckon_in(&home, &["contact", "rename", "--", old, new]);
        // An unknown contact is missing input (66); the rest bad data.
        let expected = if old == "nobody" { 66 } else { 65 };
        assert_eq!(
            code(&out),
            expected,
            "{old} -> {new}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{says:?} not in {}",
            text(&out.stderr)
        );
        assert_eq!(fs::read_to_string(home.join("contacts")).unwrap(), before);
    }
}

#[test]
fn every_contact_command_that_takes_a_name_suggests_the_near_one() {
    let (_dir, home) = populated_home();
    ok_in(&home, &["contact", "rename", "peer1", "bob"]);
    ok_in(&home, &["contact", "rename", "peer2", "alice"]);
    let before = fs::read_to_string(home.join("contacts")).unwrap();
    for (args, typed, meant) in [
        (vec!["contact", "show", "bbo"], "bbo", "bob"),
        (vec!["contact", "show", "Bob", "--json"], "Bob", "bob"),
        (vec!["contact", "block", "BOB"], "BOB", "bob"),
        (vec!["contact", "allow", "alcie"], "alcie", "alice"),
        (vec!["contact", "remove", "alic"], "alic", "alice"),
        (
            vec!["contact", "rename", "Alice", "carol"],
            "Alice",
            "alice",
        ),
        (vec!["contact", "block", "peer"], "peer", "peer3"),
    ] {
        let out = beckon_in(&home, &args);
        assert_eq!(code(&out), 66, "{args:?}");
        if args.contains(&"--json") {
            // Under --json the error is also one JSON object on stdout.
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["exit_code"], 66, "{args:?}");
        } else {
            assert_eq!(text(&out.stdout), "", "{args:?}");
        }
        assert_eq!(
            text(&out.stderr),
            format!("beckon: no contact named \"{typed}\"; did you mean \"{meant}\"?\n"),
            "{args:?}"
        );
    }
    // Nothing near: where to look instead.
    let out = beckon_in(&home, &["contact", "block", "zed"]);
    assert_eq!(
        text(&out.stderr),
        "beckon: no contact named \"zed\" (see `beckon contact list`)\n"
    );
    assert_eq!(fs::read_to_string(home.join("contacts")).unwrap(), before);
}

/// While a file does not parse, a running listener refuses every
/// invitation, says so once, and takes invitations again when it is fixed.
#[cfg(unix)]
#[test]
fn a_listener_refuses_everything_while_a_file_is_broken_and_says_so_once() {
    use e2e_support::listen;
    const WAIT: Duration = Duration::from_secs(20);
    let alice = Peer::new("alice");
    let bob = Peer::new("bob");
    alice.add_contact(&bob);
    bob.add_contact(&alice);
    bob.register("chess", &["true"]);
    let (mut listener, addr) = listen(&bob, &["--auto", "accept"]);
    let invite = || {
        let mut cmd = alice.cmd();
        cmd.args(["invite", "bob", &addr, "--app", "chess", "--json"]);
        run(cmd)
    };
    assert_eq!(code(&invite()), 0);

    let path = bob.home.join("contacts");
    let good = fs::read_to_string(&path).unwrap();
    // A slip in an edit: `alice` is now on a line that does not parse.
    let broken = good.replacen(" allowed ", " alowed ", 1);
    let line = broken.lines().position(|l| l.contains(" alowed ")).unwrap() + 1;
    fs::write(&path, &broken).unwrap();
    for _ in 0..3 {
        let out = invite();
        assert_eq!(code(&out), 6, "{}", text(&out.stderr));
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answer["refusal"]["reason"], "invitations_off");
    }
    let said = listener.expect_line("refusing every invitation until this is fixed", WAIT);
    assert!(
        said.contains(&format!("{}:{line}:", path.display())),
        "{said}"
    );

    fs::write(&path, &good).unwrap();
    assert_eq!(code(&invite()), 0);
    listener.expect_line("the files parse again", WAIT);
    let warnings = listener
        .seen
        .iter()
        .filter(|l| l.contains("refusing every invitation"))
        .count();
    assert_eq!(warnings, 1, "{:#?}", listener.seen);
    // The file was never rewritten by the listener.
    assert_eq!(fs::read_to_string(&path).unwrap(), good);
}
