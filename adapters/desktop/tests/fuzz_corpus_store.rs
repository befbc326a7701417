//! The `directory_file` fuzz target of `fuzz/`, on the stable toolchain.
//!
//! * **Replay.** Every file under `fuzz/corpus/directory_file/` goes
//!   through the same harness function as the cargo-fuzz target
//!   (`tests/fuzz_harness_store/mod.rs`), with every property asserted, so
//!   `cargo test --workspace` exercises the harness and every crash the
//!   fuzzer ever found stays fixed.
//! * **Seeds.** `seed-*` files are real files written by the `beckon`
//!   command (`init`, `contact add`/`block`/`remove`, `app
//!   register`/`remove`, `policy`), prefixed with the selector byte of their
//!   kind; `seed-import-*` are files of other tools the store reads (a key
//!   of `ssh-keygen`); `seed-bad-*` are hand-broken or refused ones. The
//!   first must parse and be exactly what the store renders; the second
//!   must parse; the third must fail, a list file at the line listed in
//!   [`BAD_SEEDS`].
//! * **Regressions.** `regress-*` files are inputs that once failed; each
//!   has a named test below.

mod fuzz_harness_store;

use std::fs;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use beckon_desktop::store::{
    parse_apps, parse_contacts, parse_identity, parse_policy, render_apps, render_contacts,
    render_identity, render_policy, StoreError,
};
use fuzz_harness_store::{check_directory_file, directory_file, FileKind};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/directory_file")
}

fn corpus_files() -> Vec<PathBuf> {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn name(file: &Path) -> String {
    file.file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

fn corpus_file(name: &str) -> Vec<u8> {
    let path = corpus_dir().join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs one input, naming it if a property fails.
fn replay(label: &str, bytes: &[u8]) -> Option<(FileKind, Result<(), StoreError>)> {
    match catch_unwind(AssertUnwindSafe(|| check_directory_file(bytes))) {
        Ok(outcome) => outcome,
        Err(panic) => {
            eprintln!("corpus file {label} failed");
            resume_unwind(panic)
        }
    }
}

#[test]
fn the_checked_in_corpus_replays_with_every_property_holding() {
    let files = corpus_files();
    assert!(
        files.len() >= 8,
        "fuzz/corpus/directory_file has {} files",
        files.len()
    );
    let mut parsed = [0usize; 4];
    for file in &files {
        let bytes = fs::read(file).expect("a corpus file");
        if let Some((kind, Ok(()))) = replay(&name(file), &bytes) {
            parsed[FileKind::ALL.iter().position(|&k| k == kind).unwrap()] += 1;
        }
    }
    for (kind, count) in FileKind::ALL.iter().zip(parsed) {
        assert!(count > 0, "no seed of {kind:?} parses");
    }
    eprintln!("replayed {} corpus files", files.len());
}

/// The hand-broken seeds of the list files and the line their error names
/// (counted in the file, after the selector byte).
const BAD_SEEDS: [(&str, usize); 16] = [
    ("seed-bad-contacts-no-end", 10),
    ("seed-bad-contacts-duplicate-name", 10),
    ("seed-bad-contacts-duplicate-key", 10),
    ("seed-bad-contacts-bad-key", 2),
    ("seed-bad-contacts-bad-permission", 1),
    ("seed-bad-contacts-latin1", 1),
    ("seed-bad-contacts-after-end", 2),
    ("seed-bad-apps-unknown-key", 12),
    ("seed-bad-apps-duplicate-id", 20),
    ("seed-bad-apps-duplicate-name", 15),
    ("seed-bad-apps-no-newline", 25),
    ("seed-bad-apps-command-not-json", 3),
    ("seed-bad-apps-no-id", 1),
    ("seed-bad-policy-unknown", 1),
    ("seed-bad-policy-two-lines", 2),
    ("seed-bad-policy-empty", 1),
];

#[test]
fn the_seeds_are_what_their_names_say() {
    let mut bad_seen = 0;
    for file in corpus_files() {
        let name = name(&file);
        if !name.starts_with("seed-") {
            continue;
        }
        let bytes = fs::read(&file).expect("a corpus file");
        let (kind, result) = replay(&name, &bytes).expect("a seed is not empty");
        let text = &bytes[1..];
        if name.starts_with("seed-bad-") {
            bad_seen += 1;
            let err = result.expect_err(&format!("{name} parses"));
            match (kind, BAD_SEEDS.iter().find(|(n, _)| *n == name)) {
                (FileKind::Identity, _) => {
                    assert!(matches!(err, StoreError::Invalid(_)), "{name}: {err:?}")
                }
                (_, Some(&(_, line))) => match err {
                    StoreError::Corrupt { line: got, .. } => assert_eq!(got, line, "{name}"),
                    other => panic!("{name}: {other:?}"),
                },
                (_, None) => panic!("{name} is not listed in BAD_SEEDS"),
            }
            continue;
        }
        result.unwrap_or_else(|e| panic!("{name}: {e}"));
        if name.starts_with("seed-import-") {
            continue;
        }
        // Written by the store: exactly its rendering.
        let text = std::str::from_utf8(text).expect("UTF-8");
        let path = kind.path();
        let rendered = match kind {
            FileKind::Contacts => render_contacts(&parse_contacts(&path, text).unwrap()),
            FileKind::Apps => render_apps(&parse_apps(&path, text).unwrap()),
            FileKind::Policy => render_policy(parse_policy(&path, text).unwrap()),
            FileKind::Identity => render_identity(&parse_identity(&path, text).unwrap())
                .unwrap()
                .to_string(),
        };
        assert_eq!(
            rendered, text,
            "{name} is not what the store writes (stale? rewrite it with the beckon command)"
        );
    }
    assert!(bad_seen > BAD_SEEDS.len(), "too few bad seeds");
    for (name, _) in BAD_SEEDS {
        assert!(corpus_dir().join(name).is_file(), "{name} is missing");
    }
}

#[test]
fn the_selector_byte_chooses_the_file() {
    for (i, kind) in FileKind::ALL.into_iter().enumerate() {
        assert_eq!(FileKind::of_selector(kind.selector()), kind);
        assert_eq!(FileKind::of_selector(i as u8 + 4), kind);
    }
    assert!(check_directory_file(b"").is_none());
    for kind in FileKind::ALL {
        let (got, result) = check_directory_file(&[kind.selector()]).unwrap();
        assert_eq!(got, kind);
        assert!(result.is_err(), "an empty {kind:?} file parses");
    }
}

#[test]
fn the_harness_catches_a_wrong_line() {
    // The property is not vacuous: an error beyond the text is refused.
    let path = FileKind::Contacts.path();
    let wrong = StoreError::Corrupt {
        path: path.clone(),
        line: 3,
        message: "x".into(),
    };
    let caught = catch_unwind(AssertUnwindSafe(|| {
        fuzz_harness_store::check_corrupt(&wrong, &path, "a\n")
    }));
    assert!(caught.is_err());
    directory_file(&corpus_file("seed-contacts"));
}
