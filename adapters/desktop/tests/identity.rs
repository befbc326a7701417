//! Your identity on the real binary: `beckon nickname` keeps the key,
//! nicknames are checked like contact names, `init --force` keeps the old
//! key, `id --json`, and other people's card comments reach files safe.

#![cfg(unix)]

mod e2e_support;

use std::fs;

use e2e_support::{run, Peer};

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn a_new_nickname_keeps_the_key() {
    let bob = Peer::new("bob");
    let out = bob.ok(&["nickname", "robert"]);
    assert!(out.contains("your nickname is now robert"), "{out}");
    let id = json(&bob.ok(&["id", "--json"]));
    assert_eq!(id["nickname"], "robert");
    assert_eq!(id["fingerprint"], bob.fingerprint.as_str());
    assert!(id["card"].as_str().unwrap().ends_with(" robert"));
    assert!(id["key"].as_str().unwrap().starts_with("ssh-ed25519 AAAA"));
    assert!(!id["key"].as_str().unwrap().contains("robert"));
    assert!(id["file"].as_str().unwrap().ends_with("id_ed25519"));
    let card = fs::read_to_string(bob.home.join("id_ed25519.pub")).unwrap();
    assert!(card.trim_end().ends_with(" robert"), "{card}");
}

#[test]
fn a_nickname_has_the_checks_of_a_contact_name() {
    let bob = Peer::new("bob");
    for bad in ["evil\u{1b}[31m", "two words", "-x", ""] {
        let out = run({
            let mut c = bob.cmd();
            c.args(["nickname", "--", bad]);
            c
        });
        assert_eq!(out.status.code(), Some(65), "{bad:?}");
        let out = run({
            let mut c = e2e_support::beckon(&bob.home.join("elsewhere"));
            c.args(["init", &format!("--nickname={bad}")]);
            c
        });
        assert_eq!(out.status.code(), Some(65), "init {bad:?}");
    }
    let id = json(&bob.ok(&["id", "--json"]));
    assert_eq!(id["nickname"], "bob", "unchanged");
}

#[test]
fn init_force_keeps_the_old_identity() {
    let bob = Peer::new("bob");
    let old = fs::read_to_string(bob.home.join("id_ed25519")).unwrap();
    let out = bob.ok(&["init", "--force", "--nickname", "bob"]);
    let kept = out
        .lines()
        .find_map(|l| l.strip_prefix("the identity it replaces is kept in "))
        .and_then(|l| l.split(" (").next())
        .unwrap_or_else(|| panic!("where the old key is kept: {out}"));
    assert_eq!(fs::read_to_string(kept).unwrap(), old);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(kept).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let id = json(&bob.ok(&["id", "--json"]));
    assert_ne!(id["fingerprint"], bob.fingerprint.as_str());
}

#[test]
fn an_escape_in_someone_elses_card_never_reaches_the_contacts_file() {
    let bob = Peer::new("bob");
    let alice = Peer::new("alice");
    let key = alice.card.rsplit_once(' ').unwrap().0;
    let card = format!("{key} alice\u{1b}[2J\u{202e}x");
    bob.ok(&["contact", "add", "alice", &card]);
    let contacts = fs::read_to_string(bob.home.join("contacts")).unwrap();
    assert!(!contacts.contains('\u{1b}'), "{contacts:?}");
    assert!(!contacts.contains('\u{202e}'), "{contacts:?}");
    let list = bob.ok(&["contact", "list"]);
    assert!(!list.contains('\u{1b}'));
}
