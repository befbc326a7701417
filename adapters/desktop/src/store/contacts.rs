//! The `contacts` file: one contact per line,
//! `NAME allowed|blocked ssh-ed25519 AAAA... [comment]`.
//!
//! The words of a line are separated by any run of spaces or tabs. NAME is
//! what [`check_contact_name`] accepts: 1 to 64 letters, digits and
//! `. _ - @ +`, not starting with `-`, and not `unknown` in any case (the
//! word the listener shows for an inviter who is not a contact). Names and
//! keys are unique. As in every list file, `#` starts a comment line, the
//! last line is `end` followed by a newline, and a UTF-8 byte order mark
//! at the start is ignored.

use std::fmt::Write as _;
use std::path::Path;

use beckon_core::{Permission, PublicKey};

use super::file::content_lines;
use super::{check_name, StoreError, END_MARKER};

/// A contact as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactEntry {
    /// The nickname the user chose: unique, used on the command line.
    pub name: String,
    /// The contact's key: its identity.
    pub key: PublicKey,
    /// The comment of the key line the contact was added from.
    pub comment: String,
    /// Allowed or blocked.
    pub permission: Permission,
}

/// The word the listener and `beckon invite` show for a key that is not a
/// contact, so no contact may be named so, in any case.
pub const NOT_A_CONTACT: &str = "unknown";

/// Checks a contact's name: what [`ContactEntry::new`] and the `contacts`
/// file accept (see the module documentation).
pub fn check_contact_name(name: &str) -> Result<(), StoreError> {
    check_name("contact", name)?;
    if name.eq_ignore_ascii_case(NOT_A_CONTACT) {
        return Err(StoreError::invalid(format!(
            "a contact may not be named {name:?}: Beckon shows an inviter who is not a \
             contact as {NOT_A_CONTACT:?}, so choose another name"
        )));
    }
    Ok(())
}

impl ContactEntry {
    /// A new, allowed contact. The name is checked ([`check_contact_name`]).
    pub fn new(name: &str, key: PublicKey, comment: &str) -> Result<Self, StoreError> {
        check_contact_name(name)?;
        Ok(ContactEntry {
            name: name.to_owned(),
            key,
            comment: one_line(comment),
            permission: Permission::Allowed,
        })
    }
}

/// The first word of `line` and the rest, both without surrounding
/// white space.
fn first_word(line: &str) -> (&str, &str) {
    let line = line.trim_start();
    match line.find(char::is_whitespace) {
        Some(i) => (&line[..i], line[i..].trim()),
        None => (line, ""),
    }
}

/// A comment as one line that is safe to show: runs of white space become
/// one space, and control, bidirectional and zero-width characters (an
/// ESC from a stranger's card would otherwise reach terminals raw) become
/// U+FFFD.
fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| {
            if super::unsafe_to_show(c) {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

pub(crate) fn permission_word(p: Permission) -> &'static str {
    match p {
        Permission::Allowed => "allowed",
        Permission::Blocked => "blocked",
    }
}

const HEADER: &str = "\
# Beckon contacts, one per line:
#   NAME allowed|blocked ssh-ed25519 AAAA... [comment]
# Blank lines and lines starting with # are ignored. The last line must be
# `end`: a file without it was cut short and is refused.
# Change this file with `beckon contact ...`, or by hand while no beckon
# command runs.
";

/// The `contacts` file's text for this list: a comment header, one line
/// per contact, and the final `end` line.
pub fn render(list: &[ContactEntry]) -> String {
    let mut out = String::from(HEADER);
    for c in list {
        let _ = writeln!(
            out,
            "{} {} {}",
            c.name,
            permission_word(c.permission),
            c.key.to_openssh(&c.comment)
        );
    }
    out.push_str(END_MARKER);
    out.push('\n');
    out
}

/// Parses the text of the `contacts` file at `path` (which only names it
/// in errors). Any mistake, including a missing final `end` line, a
/// duplicate name or key, is a [`StoreError::Corrupt`] naming `path` and
/// the line.
pub fn parse(path: &Path, text: &str) -> Result<Vec<ContactEntry>, StoreError> {
    let mut list: Vec<ContactEntry> = Vec::new();
    for (number, line) in content_lines(path, text)? {
        let bad = |message: String| StoreError::corrupt(path, number, message);
        let (name, rest) = first_word(line);
        let (status, key_text) = first_word(rest);
        check_contact_name(name).map_err(|e| bad(e.to_string()))?;
        let permission = match status {
            "allowed" => Permission::Allowed,
            "blocked" => Permission::Blocked,
            "" => {
                return Err(bad(
                    "expected `NAME allowed|blocked ssh-ed25519 AAAA... [comment]`".into(),
                ))
            }
            other => {
                return Err(bad(format!(
                    "expected `allowed` or `blocked` after the name, found {other:?}"
                )))
            }
        };
        let (key, comment) = PublicKey::parse_openssh(key_text)
            .map_err(|e| bad(format!("the key of contact {name:?}: {e}")))?;
        if let Some(other) = list.iter().find(|c| c.name == name) {
            return Err(bad(format!(
                "a second contact named {:?} (names must be unique)",
                other.name
            )));
        }
        if let Some(other) = list.iter().find(|c| c.key == key) {
            return Err(bad(format!(
                "the same key as contact {:?} (keys must be unique)",
                other.name
            )));
        }
        list.push(ContactEntry {
            name: name.to_owned(),
            key,
            comment: one_line(comment),
            permission,
        });
    }
    Ok(list)
}
