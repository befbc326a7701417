//! The `policy` file: one word, `off`, `trusted` or `anyone`.

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
    let lines = content_lines(path, text)?;
    let mut policy = None;
    for (number, line) in lines {
        if policy.is_some() {
            return Err(StoreError::corrupt(path, number, "a second policy line"));
        }
        policy = Some(parse_policy_word(line).ok_or_else(|| {
            StoreError::corrupt(
                path,
                number,
                format!("unknown policy {line:?} (expected off, trusted or anyone)"),
            )
        })?);
    }
    policy
        .ok_or_else(|| StoreError::corrupt(path, 1, "no policy (expected off, trusted or anyone)"))
}
