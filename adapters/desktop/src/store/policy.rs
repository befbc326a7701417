//! The `policy` file: one word, `off`, `trusted` or `anyone`, then `end`.
//!
//! As in every list file, `#` starts a comment line, the last line is
//! `end` followed by a newline, and a UTF-8 byte order mark at the start
//! is ignored. A missing file means `trusted`. `beckon policy
//! off|trusted|anyone` writes the file even when the one there does not
//! parse: it holds nothing else worth keeping.

use std::path::Path;

use beckon_core::Policy;

use super::file::content_lines;
use super::{parse_policy_word, policy_word, StoreError, END_MARKER};

/// The `policy` file's text: a comment header, the policy's word and the
/// final `end` line.
pub fn render(policy: Policy) -> String {
    format!(
        "# Beckon invitation policy: off (no invitations), trusted (from\n\
         # contacts that are not blocked) or anyone (anyone not blocked).\n\
         # The last line must be `end`.\n{}\n{END_MARKER}\n",
        policy_word(policy)
    )
}

/// Parses the text of the `policy` file at `path` (which only names it in
/// errors): exactly one of `off`, `trusted` or `anyone`, then `end`. Any
/// mistake is a [`StoreError::Corrupt`] naming `path` and the line.
pub fn parse(path: &Path, text: &str) -> Result<Policy, StoreError> {
    if text.is_empty() {
        return Err(StoreError::corrupt(
            path,
            1,
            "the file is empty: write it again with `beckon policy trusted` (or off, or \
             anyone), or delete it for the default, trusted",
        ));
    }
    let lines = content_lines(path, text)?;
    let mut policy = None;
    let mut first = 0;
    for (number, line) in lines {
        if policy.is_some() {
            return Err(StoreError::corrupt(
                path,
                number,
                format!("a second policy line (the first is line {first}): keep only one of them"),
            ));
        }
        first = number;
        policy = Some(parse_policy_word(line).ok_or_else(|| {
            StoreError::corrupt(
                path,
                number,
                format!(
                    "unknown policy {line:?}: expected off, trusted or anyone (or run \
                     `beckon policy trusted`, or off, or anyone)"
                ),
            )
        })?);
    }
    policy.ok_or_else(|| {
        StoreError::corrupt(
            path,
            1,
            format!(
                "no policy: put one of off, trusted or anyone on a line before `{END_MARKER}`, \
                 or run `beckon policy trusted` (or off, or anyone)"
            ),
        )
    })
}
