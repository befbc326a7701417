//! The harness of the `directory_file` fuzz target: the desktop's
//! file parsers, [`beckon_desktop::store`], in one file shared by two users:
//!
//! * the cargo-fuzz crate in `fuzz/`, whose target
//!   `fuzz_targets/directory_file.rs` includes this file with
//!   `#[path = "../../adapters/desktop/tests/fuzz_harness_store/mod.rs"]` and
//!   calls [`directory_file`];
//! * `adapters/desktop/tests/fuzz_corpus_store.rs`, which replays the
//!   checked-in corpus (`fuzz/corpus/directory_file/*`) through the very
//!   same function on the stable toolchain, so `cargo test --workspace`
//!   runs it too.
//!
//! It uses only the public API of `beckon_desktop::store` and `beckon_core`,
//! and `std`.
//!
//! # Input
//!
//! The first byte chooses the file ([`FileKind::of_selector`]: the byte
//! modulo 4, so the seeds use the digits `0` to `3`); the rest is the file's
//! bytes:
//!
//! | selector | file | parser, renderer |
//! |---|---|---|
//! | `0` | `contacts` | `parse_contacts`, `render_contacts` |
//! | `1` | `apps` | `parse_apps`, `render_apps` |
//! | `2` | `policy` | `parse_policy`, `render_policy` |
//! | `3` | `id_ed25519` | `parse_identity`, `render_identity` |
//!
//! The list files (contacts, apps, policy) go through `decode_text`, as the
//! home reads them: bytes that are not UTF-8 are refused there, naming the
//! line. So that every input still reaches a parser, the lossy decoding of
//! such bytes is parsed too (a file may hold U+FFFD itself). The identity
//! is read with `read_to_string`, which refuses such bytes with an I/O
//! error; its parser gets the lossy decoding the same way.
//!
//! # Properties
//!
//! * No panic.
//! * **Errors name the file and a line.** A list file's error (of
//!   `decode_text` or of the parser) is `StoreError::Corrupt` with the
//!   file's path and a line within `1..=lines + 1` of the text (`lines + 1`:
//!   the missing `end` after the last line), and its message shows
//!   `PATH:LINE: `. An identity's error is `StoreError::Invalid` whose
//!   message names the file (key files are not edited by hand: no line).
//! * **Round trip.** Whatever parses renders to a text that parses to an
//!   equal value, and rendering is stable:
//!   `render(parse(render(x))) == render(x)`.
//! * **Bounded.** The rendering is at most [`GROWTH_FACTOR`] times the
//!   input plus [`GROWTH_SLACK`] bytes (the comment header).
//! * **Cut short is detected.** A strict prefix of a rendered list file
//!   (cut after any line, or before its last byte) does not parse: every
//!   list file ends with `end`.
//! * **Comments are ignored.** A list file with a comment line put first
//!   parses to the same value, or fails too.
//! * **What parses is valid.** Contacts: names and keys unique, each entry
//!   what `ContactEntry::new` makes. Registrations: names and ids unique,
//!   at most 64, each what `AppEntry::new` makes, and `check_apps` passes.
//!   Identity: the nickname is trimmed, the card is the key's line.
#![allow(dead_code)]

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use beckon_core::limits::MAX_REGISTRATIONS;
use beckon_core::Policy;
use beckon_desktop::store::{
    check_apps, decode_text, parse_apps, parse_contacts, parse_identity, parse_policy, render_apps,
    render_contacts, render_identity, render_policy, AppEntry, ContactEntry, StoreError,
    StoredIdentity, APPS_FILE, CONTACTS_FILE, IDENTITY_FILE, POLICY_FILE,
};

/// The home the harness pretends the files are in: errors must name the
/// whole path.
pub(crate) const HOME: &str = "/home/fuzz/.config/beckon";

/// A rendering may be at most this many times its input ...
pub(crate) const GROWTH_FACTOR: usize = 2;
/// ... plus this many bytes (the comment header of a file).
pub(crate) const GROWTH_SLACK: usize = 1024;

/// At most this many cuts of a rendered list file are tried.
const MAX_CUTS: usize = 64;

/// The file an input is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// `contacts`.
    Contacts,
    /// `apps`.
    Apps,
    /// `policy`.
    Policy,
    /// `id_ed25519`.
    Identity,
}

impl FileKind {
    /// Every kind, in selector order.
    pub(crate) const ALL: [FileKind; 4] = [
        FileKind::Contacts,
        FileKind::Apps,
        FileKind::Policy,
        FileKind::Identity,
    ];

    /// The kind a selector byte chooses: the byte modulo 4.
    pub(crate) fn of_selector(byte: u8) -> Self {
        Self::ALL[usize::from(byte % 4)]
    }

    /// The selector the seeds use: an ASCII digit.
    pub(crate) fn selector(self) -> u8 {
        let index = Self::ALL.iter().position(|&k| k == self).unwrap_or(0);
        b'0' + index as u8
    }

    /// The file's name in the home.
    pub(crate) fn file_name(self) -> &'static str {
        match self {
            FileKind::Contacts => CONTACTS_FILE,
            FileKind::Apps => APPS_FILE,
            FileKind::Policy => POLICY_FILE,
            FileKind::Identity => IDENTITY_FILE,
        }
    }

    /// The file's path in [`HOME`].
    pub(crate) fn path(self) -> PathBuf {
        Path::new(HOME).join(self.file_name())
    }
}

/// The fuzz target: never fails, panics when a property does not hold.
pub(crate) fn directory_file(data: &[u8]) {
    let _ = check_directory_file(data);
}

/// [`directory_file`], returning which file the input was and whether it
/// parsed (the error of the real reader, for bytes that are not UTF-8), or
/// `None` for the empty input.
pub(crate) fn check_directory_file(data: &[u8]) -> Option<(FileKind, Result<(), StoreError>)> {
    let (&selector, bytes) = data.split_first()?;
    let kind = FileKind::of_selector(selector);
    let path = kind.path();
    let result = match kind {
        FileKind::Identity => {
            let text = String::from_utf8_lossy(bytes);
            check_identity(&path, &text)
        }
        list => match decode_text(&path, bytes.to_vec()) {
            Ok(text) => check_list(list, &path, &text),
            Err(e) => {
                let lossy = String::from_utf8_lossy(bytes);
                check_corrupt(&e, &path, &lossy);
                if let StoreError::Corrupt { line, .. } = &e {
                    let valid = std::str::from_utf8(bytes).map_or_else(|e| e.valid_up_to(), |_| 0);
                    let newlines = bytes[..valid].iter().filter(|&&b| b == b'\n').count();
                    assert_eq!(*line, newlines + 1, "the line of the first bad byte");
                }
                let _ = check_list(list, &path, &lossy);
                Err(e)
            }
        },
    };
    Some((kind, result))
}

/// One list file's text through its parser, with every property.
pub(crate) fn check_list(kind: FileKind, path: &Path, text: &str) -> Result<(), StoreError> {
    match kind {
        FileKind::Contacts => {
            let list = round_trip(path, text, parse_contacts, |l: &Vec<ContactEntry>| {
                render_contacts(l)
            })?;
            check_contacts(&list);
        }
        FileKind::Apps => {
            let list = round_trip(path, text, parse_apps, |l: &Vec<AppEntry>| render_apps(l))?;
            check_apps_list(&list);
        }
        FileKind::Policy => {
            round_trip(path, text, parse_policy, |p: &Policy| render_policy(*p))?;
        }
        FileKind::Identity => unreachable!("not a list file"),
    }
    Ok(())
}

/// Parses, and checks the error or the round trip, the growth, the cuts and
/// the comment.
fn round_trip<T: PartialEq + Debug>(
    path: &Path,
    text: &str,
    parse: fn(&Path, &str) -> Result<T, StoreError>,
    render: impl Fn(&T) -> String,
) -> Result<T, StoreError> {
    let parsed = parse(path, text);
    let commented = parse(path, &format!("# a comment put first\n{text}"));
    let value = match parsed {
        Ok(value) => value,
        Err(e) => {
            check_corrupt(&e, path, text);
            assert!(
                commented.is_err(),
                "a comment made {text:?} parse: {commented:?}"
            );
            return Err(e);
        }
    };
    assert_eq!(
        commented.as_ref().ok(),
        Some(&value),
        "a comment changed what {text:?} is"
    );
    let rendered = render(&value);
    check_growth(text, &rendered);
    let again = parse(path, &rendered).unwrap_or_else(|e| {
        panic!("the rendering of {text:?} does not parse: {e}\n--- rendering ---\n{rendered}")
    });
    assert_eq!(again, value, "the rendering parses to another value");
    assert_eq!(render(&again), rendered, "rendering is not stable");
    check_cuts(path, &rendered, parse);
    Ok(value)
}

/// A list file's error: `Corrupt`, naming the file and a line of `text`.
pub(crate) fn check_corrupt(e: &StoreError, path: &Path, text: &str) {
    let StoreError::Corrupt {
        path: named,
        line,
        message,
    } = e
    else {
        panic!("not a Corrupt error: {e:?}");
    };
    assert_eq!(named, path, "the error names another file");
    let lines = text.lines().count();
    assert!(
        (1..=lines + 1).contains(line),
        "line {line} of a text of {lines} lines: {message}"
    );
    assert!(!message.is_empty(), "an error without a message");
    let shown = e.to_string();
    let prefix = format!("{}:{line}: ", path.display());
    assert!(
        shown.starts_with(&prefix),
        "{shown:?} does not start with {prefix:?}"
    );
}

fn check_growth(input: &str, rendered: &str) {
    assert!(
        rendered.len() <= GROWTH_FACTOR * input.len() + GROWTH_SLACK,
        "{} bytes render to {}",
        input.len(),
        rendered.len()
    );
}

/// Every strict prefix of a rendered file that ends after a line, and the
/// file without its last byte, are refused (at most [`MAX_CUTS`] of them).
fn check_cuts<T: Debug>(
    path: &Path,
    rendered: &str,
    parse: fn(&Path, &str) -> Result<T, StoreError>,
) {
    assert!(rendered.ends_with('\n'));
    let mut cuts: Vec<usize> = std::iter::once(0)
        .chain(rendered.match_indices('\n').map(|(i, _)| i + 1))
        .filter(|&cut| cut < rendered.len())
        .collect();
    cuts.push(rendered.len() - 1);
    let step = cuts.len().div_ceil(MAX_CUTS);
    for &cut in cuts.iter().rev().step_by(step) {
        let short = &rendered[..cut];
        match parse(path, short) {
            Ok(value) => panic!("{short:?}, cut short, parses to {value:?}"),
            Err(e) => check_corrupt(&e, path, short),
        }
    }
}

fn check_contacts(list: &[ContactEntry]) {
    for (i, c) in list.iter().enumerate() {
        for other in &list[..i] {
            assert_ne!(other.name, c.name, "two contacts named {:?}", c.name);
            assert_ne!(other.key, c.key, "two contacts with one key");
        }
        let mut made = ContactEntry::new(&c.name, c.key, &c.comment)
            .unwrap_or_else(|e| panic!("a contact that cannot be made: {e}"));
        made.permission = c.permission;
        assert_eq!(&made, c, "a contact unlike what ContactEntry::new makes");
    }
}

fn check_apps_list(list: &[AppEntry]) {
    assert!(
        list.len() <= MAX_REGISTRATIONS,
        "{} registrations",
        list.len()
    );
    check_apps(list).unwrap_or_else(|e| panic!("check_apps refuses a parsed list: {e}"));
    for (i, a) in list.iter().enumerate() {
        for other in &list[..i] {
            assert_ne!(other.name, a.name, "two applications named {:?}", a.name);
            assert_ne!(other.id, a.id, "two applications with one id");
        }
        let made = AppEntry::new(&a.name, Some(a.id), &a.description, a.command.clone())
            .unwrap_or_else(|e| panic!("a registration that cannot be made: {e}"))
            .with_data(a.data);
        assert_eq!(&made, a, "a registration unlike what AppEntry::new makes");
    }
}

/// The identity file's text through its parser, with every property.
pub(crate) fn check_identity(path: &Path, text: &str) -> Result<(), StoreError> {
    let stored = match parse_identity(path, text) {
        Ok(stored) => stored,
        Err(e) => {
            let StoreError::Invalid(message) = &e else {
                panic!("not an Invalid error: {e:?}");
            };
            let shown = path.display().to_string();
            assert!(
                message.contains(&shown),
                "{message:?} does not name {shown}"
            );
            return Err(e);
        }
    };
    assert_eq!(
        stored.nickname,
        stored.nickname.trim(),
        "an untrimmed nickname"
    );
    let rendered = render_identity(&stored)
        .unwrap_or_else(|e| panic!("a parsed identity does not render: {e}"));
    check_growth(text, &rendered);
    let again = parse_identity(path, &rendered)
        .unwrap_or_else(|e| panic!("the rendering of {text:?} does not parse: {e}"));
    assert_same_identity(&again, &stored);
    let twice = render_identity(&again).expect("renders");
    assert_eq!(*twice, *rendered, "rendering is not stable");
    assert_eq!(
        stored.card(),
        stored
            .identity
            .public_key()
            .to_openssh(&stored.nickname)
            .to_string()
    );
    Ok(())
}

fn assert_same_identity(a: &StoredIdentity, b: &StoredIdentity) {
    assert_eq!(
        a.identity.public_key(),
        b.identity.public_key(),
        "another key"
    );
    assert_eq!(*a.identity.to_seed(), *b.identity.to_seed(), "another seed");
    assert_eq!(a.nickname, b.nickname, "another nickname");
}
