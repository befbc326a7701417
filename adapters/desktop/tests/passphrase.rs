//! An OpenSSH key with a passphrase, imported and used on the real binary:
//! the file stays encrypted, the passphrase comes from the terminal (asked
//! once, on a pty here) or from BECKON_PASSPHRASE_FILE, and is never
//! written to the home.

#![cfg(unix)]

mod e2e_support;

use std::ffi::OsStr;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use e2e_support::{assert_code, assert_said, beckon, run, BECKON};
use expectrl::{Eof, Expect, Session};

const PASS: &str = "correct horse battery staple";

/// An encrypted OpenSSH ed25519 key, as `ssh-keygen -N PASS` writes one.
fn encrypted_key(dir: &Path) -> std::path::PathBuf {
    let key =
        ssh_key::PrivateKey::random(&mut ssh_key::rand_core::OsRng, ssh_key::Algorithm::Ed25519)
            .unwrap();
    let mut key = key;
    key.set_comment("me@laptop");
    let key = key.encrypt(&mut ssh_key::rand_core::OsRng, PASS).unwrap();
    let path = dir.join("id_ed25519");
    fs::write(
        &path,
        key.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    path
}

fn pass_file(dir: &Path, text: &str) -> std::path::PathBuf {
    file_with_mode(dir, "pass", text, 0o600)
}

/// `dir/name`, holding `text`, with the permissions `mode`.
fn file_with_mode(dir: &Path, name: &str, text: &str, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// Runs `beckon` in `home` with `args`, the passphrase in the file `pass`.
fn with_pass_file(home: &Path, args: &[impl AsRef<OsStr>], pass: &Path) -> Output {
    let mut c = beckon(home);
    c.args(args).env("BECKON_PASSPHRASE_FILE", pass);
    run(c)
}

/// `beckon init --import-openssh key` in `home`, the passphrase in `pass`.
fn import_with_pass_file(home: &Path, key: &Path, pass: &Path) -> Output {
    let args: [&OsStr; 3] = [
        "init".as_ref(),
        "--import-openssh".as_ref(),
        key.as_os_str(),
    ];
    with_pass_file(home, &args, pass)
}

/// Asserts that the command succeeded, with its stderr if not.
fn assert_succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_encrypted_key_is_imported_and_stays_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let key = encrypted_key(dir.path());
    let home = dir.path().join("home");
    let good = pass_file(dir.path(), &format!("{PASS}\n"));
    let out = import_with_pass_file(&home, &key, &good);
    assert_succeeded(&out);
    let stored = fs::read_to_string(home.join("id_ed25519")).unwrap();
    let parsed = ssh_key::PrivateKey::from_openssh(&stored).unwrap();
    assert!(parsed.is_encrypted(), "the home keeps the key encrypted");
    assert!(!fs::read_dir(&home)
        .unwrap()
        .any(|e| fs::read(e.unwrap().path())
            .unwrap_or_default()
            .windows(PASS.len())
            .any(|w| w == PASS.as_bytes())));

    // Used with the passphrase file.
    let out = with_pass_file(&home, &["id"], &good);
    assert_succeeded(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("me@laptop"));

    // A wrong one: 65, and the file is untouched.
    // A passphrase file others can read is refused like such a key (77).
    let open_file = file_with_mode(dir.path(), "open", &format!("{PASS}\n"), 0o644);
    let out = with_pass_file(&home, &["id"], &open_file);
    assert_code(&out, 77);
    assert_said(&out, "chmod 600");

    let bad = file_with_mode(dir.path(), "bad", "nope\n", 0o600);
    let out = with_pass_file(&home, &["id"], &bad);
    assert_code(&out, 65);
    assert_said(&out, "wrong passphrase");
    assert_eq!(fs::read_to_string(home.join("id_ed25519")).unwrap(), stored);

    // No terminal and no file (setsid: no controlling terminal): it says
    // how to give one.
    let out = Command::new("setsid")
        .arg("-w")
        .arg(BECKON)
        .arg("id")
        .env("BECKON_HOME", &home)
        .env_remove("BECKON_PASSPHRASE_FILE")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_code(&out, 66);
    assert_said(&out, "BECKON_PASSPHRASE_FILE");

    // A new nickname rewrites the file, still encrypted with the same
    // passphrase.
    let out = with_pass_file(&home, &["nickname", "laptop"], &good);
    assert_succeeded(&out);
    let stored = fs::read_to_string(home.join("id_ed25519")).unwrap();
    let parsed = ssh_key::PrivateKey::from_openssh(&stored).unwrap();
    assert!(parsed.is_encrypted());
    assert_eq!(parsed.decrypt(PASS).unwrap().comment(), "laptop");
}

#[test]
fn the_passphrase_is_asked_once_on_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let key = encrypted_key(dir.path());
    let home = dir.path().join("home");
    let good = pass_file(dir.path(), PASS);
    let out = import_with_pass_file(&home, &key, &good);
    assert_succeeded(&out);
    let mut cmd = Command::new(BECKON);
    cmd.env("BECKON_HOME", &home)
        .env_remove("BECKON_PASSPHRASE_FILE")
        .arg("id");
    let mut session = Session::spawn(cmd).expect("spawn on a pty");
    session.set_expect_timeout(Some(Duration::from_secs(20)));
    session.expect("passphrase for ").expect("the prompt");
    session.send_line(PASS).unwrap();
    let card = session.expect("ssh-ed25519 AAAA").expect("the card");
    let mut shown = String::from_utf8_lossy(card.before()).into_owned();
    let rest = session.expect(Eof).expect("the end");
    shown.push_str(&String::from_utf8_lossy(rest.before()));
    assert!(
        !shown.contains(PASS),
        "the passphrase is not echoed: {shown}"
    );
    assert!(!shown.contains("passphrase for "), "asked once: {shown}");
}
