//! The `contacts` file: one contact per line,
//! `NAME allowed|blocked ssh-ed25519 AAAA... [comment]`.

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

impl ContactEntry {
    /// A new, allowed contact. The name is checked.
    pub fn new(name: &str, key: PublicKey, comment: &str) -> Result<Self, StoreError> {
        check_name("contact", name)?;
        Ok(ContactEntry {
            name: name.to_owned(),
            key,
            comment: one_line(comment),
            permission: Permission::Allowed,
        })
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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
        let mut words = line.splitn(3, char::is_whitespace);
        let name = words.next().unwrap_or_default();
        let status = words.next().unwrap_or_default().trim();
        let key_text = words.next().unwrap_or_default().trim();
        check_name("contact", name).map_err(|e| bad(e.to_string()))?;
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
