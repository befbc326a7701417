//! The home is checked like sshd's StrictModes, on the real binary: a
//! directory or file someone else could change, or a private key others
//! can read, stops the command with exit 77 naming the path and the fix,
//! and nothing is read from it.

#![cfg(unix)]

mod e2e_support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use e2e_support::{run, Peer};

fn set(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn refused(peer: &Peer, args: &[&str], path: &Path, fix: &str) {
    let out = run({
        let mut c = peer.cmd();
        c.args(args);
        c
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(77), "{args:?}: {stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains(fix), "{fix:?} not in {stderr}");
}

#[test]
fn a_home_others_can_change_is_refused_with_the_fix() {
    let bob = Peer::new("bob");
    let alice = Peer::new("alice");
    bob.add_contact(&alice);
    let home = bob.home.clone();
    let contacts = home.join("contacts");
    let identity = fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| fs::read_to_string(p).is_ok_and(|t| t.contains("OPENSSH PRIVATE KEY")))
        .expect("the identity file");

    set(&home, 0o777);
    refused(&bob, &["contact", "list"], &home, "chmod go-w");
    refused(
        &bob,
        &["contact", "add", "carol", &alice.card],
        &home,
        "chmod go-w",
    );
    set(&home, 0o700);

    set(&contacts, 0o666);
    refused(&bob, &["contact", "list"], &contacts, "chmod go-w");
    set(&contacts, 0o644);

    set(&identity, 0o644);
    refused(
        &bob,
        &["listen", "--listen", "127.0.0.1:0"],
        &identity,
        "chmod 600",
    );
    set(&identity, 0o600);

    // Fixed: all is well again.
    let out = bob.ok(&["contact", "list"]);
    assert!(out.contains("alice"), "{out}");
}
