//! The `apps` file: one block per application registration.
//!
//! ```text
//! [chess]
//! id = 0279d361-94f7-550d-b553-8e3711ec5d37
//! description = Chess with friends
//! command = ["/usr/bin/chess", "--join"]
//! data = file
//! ```
//!
//! `data` says how the launched command gets the invitation's data:
//! `file` (the default, also when the line is absent: the data in a 0600
//! temporary file named by `BECKON_DATA_FILE`, removed after the command
//! exits; stdin stays the terminal), `stdin` (piped to its stdin, which
//! takes the terminal from terminal programs), or `none`. A file written
//! before this key existed has no `data` line and reads as `file`;
//! `render` writes the line only when it is not `file`.

use std::fmt::Write as _;
use std::path::Path;

use beckon_core::limits::{MAX_NAME_CHARS, MAX_REGISTRATIONS};
use beckon_core::ApplicationId;
use uuid::Uuid;

use super::file::content_lines;
use super::{check_name, StoreError, END_MARKER};

/// The namespace of application ids made from names: an application
/// registered as NAME without `--id` has the id UUIDv5(this namespace,
/// NAME's UTF-8 bytes), so two peers agree on the id by name alone.
///
/// The namespace itself is UUIDv5(the RFC 4122 URL namespace,
/// `"beckon:application"`) = `3f7b2f36-558f-54af-890b-83217ba8590e`.
/// For example `chess` is `0279d361-94f7-550d-b553-8e3711ec5d37`.
pub const BECKON_APP_NAMESPACE: Uuid = uuid::uuid!("3f7b2f36-558f-54af-890b-83217ba8590e");

/// The application id of a name (see [`BECKON_APP_NAMESPACE`]).
pub fn app_id_for_name(name: &str) -> ApplicationId {
    ApplicationId::from_bytes(Uuid::new_v5(&BECKON_APP_NAMESPACE, name.as_bytes()).into_bytes())
}

/// A registration as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppEntry {
    /// The local name, unique.
    pub name: String,
    /// The application id, unique.
    pub id: ApplicationId,
    /// A description, one line.
    pub description: String,
    /// What to launch on accept: the program and its arguments.
    pub command: Vec<String>,
    /// How the command gets the invitation's data.
    pub data: DataMode,
}

/// How a launched command gets the invitation's data (`app register
/// --data`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DataMode {
    /// In a 0600 temporary file named by `BECKON_DATA_FILE`, removed after
    /// the command exits; its stdin stays the terminal.
    #[default]
    File,
    /// Piped to its stdin.
    Stdin,
    /// Not given.
    None,
}

impl DataMode {
    /// The word in the file and on the command line.
    pub fn word(self) -> &'static str {
        match self {
            DataMode::File => "file",
            DataMode::Stdin => "stdin",
            DataMode::None => "none",
        }
    }

    /// The mode of a word.
    pub fn from_word(word: &str) -> Option<Self> {
        match word {
            "file" => Some(DataMode::File),
            "stdin" => Some(DataMode::Stdin),
            "none" => Some(DataMode::None),
            _ => None,
        }
    }
}

impl AppEntry {
    /// A registration; `id` defaults to the name's UUIDv5.
    pub fn new(
        name: &str,
        id: Option<ApplicationId>,
        description: &str,
        command: Vec<String>,
    ) -> Result<Self, StoreError> {
        check_name("application", name)?;
        if description.contains(['\n', '\r']) {
            return Err(StoreError::invalid("the description must be one line"));
        }
        if description.chars().count() > MAX_NAME_CHARS {
            return Err(StoreError::invalid(format!(
                "the description is longer than {MAX_NAME_CHARS} characters"
            )));
        }
        if command.first().is_none_or(|p| p.is_empty()) {
            return Err(StoreError::invalid("the command to launch is empty"));
        }
        Ok(AppEntry {
            name: name.to_owned(),
            id: id.unwrap_or_else(|| app_id_for_name(name)),
            description: description.trim().to_owned(),
            command,
            data: DataMode::File,
        })
    }

    /// The same registration with this data mode.
    pub fn with_data(mut self, data: DataMode) -> Self {
        self.data = data;
        self
    }
}

const HEADER: &str = "\
# Beckon application registrations, one block each:
#   [NAME]
#   id = UUID
#   description = one line of text
#   command = [\"program\", \"argument\", ...]   (a JSON array of strings)
# Blank lines and lines starting with # are ignored. At most 64
# registrations. The last line must be `end`: a file without it was cut
# short and is refused.
";

/// Checks a list before it is written: at most 64 registrations.
pub fn check_list(list: &[AppEntry]) -> Result<(), StoreError> {
    if list.len() > MAX_REGISTRATIONS {
        return Err(StoreError::invalid(format!(
            "at most {MAX_REGISTRATIONS} applications can be registered"
        )));
    }
    Ok(())
}

/// The `apps` file's text for this list: a comment header, one block per
/// registration, and the final `end` line.
pub fn render(list: &[AppEntry]) -> String {
    let mut out = String::from(HEADER);
    for app in list {
        let words: Vec<String> = app
            .command
            .iter()
            .map(|w| serde_json::to_string(w).unwrap_or_default())
            .collect();
        let command = format!("[{}]", words.join(", "));
        let _ = write!(
            out,
            "\n[{}]\nid = {}\ndescription = {}\ncommand = {}\n",
            app.name, app.id, app.description, command
        );
        if app.data != DataMode::File {
            let _ = writeln!(out, "data = {}", app.data.word());
        }
    }
    out.push('\n');
    out.push_str(END_MARKER);
    out.push('\n');
    out
}

#[derive(Default)]
struct Partial {
    line: usize,
    name: String,
    id: Option<ApplicationId>,
    description: Option<String>,
    command: Option<Vec<String>>,
    data: Option<DataMode>,
}

/// Parses the text of the `apps` file at `path` (which only names it in
/// errors). Any mistake, including a missing final `end` line, a duplicate
/// name or id, or more than 64 registrations, is a [`StoreError::Corrupt`]
/// naming `path` and the line.
pub fn parse(path: &Path, text: &str) -> Result<Vec<AppEntry>, StoreError> {
    let mut list: Vec<AppEntry> = Vec::new();
    let mut current: Option<Partial> = None;
    let finish = |list: &mut Vec<AppEntry>, p: Partial| -> Result<(), StoreError> {
        let bad = |m: String| StoreError::corrupt(path, p.line, m);
        let id =
            p.id.ok_or_else(|| bad(format!("application [{}] has no `id = UUID` line", p.name)))?;
        let command = p.command.ok_or_else(|| {
            bad(format!(
                "application [{}] has no `command = [...]` line",
                p.name
            ))
        })?;
        if let Some(other) = list.iter().find(|a| a.name == p.name) {
            return Err(bad(format!(
                "a second application named [{}] (names must be unique)",
                other.name
            )));
        }
        if let Some(other) = list.iter().find(|a| a.id == id) {
            return Err(bad(format!(
                "the same id as application [{}] (ids must be unique)",
                other.name
            )));
        }
        if list.len() >= MAX_REGISTRATIONS {
            return Err(bad(format!(
                "more than {MAX_REGISTRATIONS} applications registered"
            )));
        }
        let entry = AppEntry::new(
            &p.name,
            Some(id),
            &p.description.unwrap_or_default(),
            command,
        )
        .map_err(|e| bad(e.to_string()))?
        .with_data(p.data.unwrap_or_default());
        list.push(entry);
        Ok(())
    };
    for (number, line) in content_lines(path, text)? {
        let bad = |m: String| StoreError::corrupt(path, number, m);
        if let Some(header) = line.strip_prefix('[') {
            let name = header
                .strip_suffix(']')
                .ok_or_else(|| bad("expected `[NAME]`".into()))?
                .trim();
            check_name("application", name).map_err(|e| bad(e.to_string()))?;
            if let Some(p) = current.take() {
                finish(&mut list, p)?;
            }
            current = Some(Partial {
                line: number,
                name: name.to_owned(),
                ..Partial::default()
            });
            continue;
        }
        let p = current
            .as_mut()
            .ok_or_else(|| bad("expected an `[NAME]` line before this one".into()))?;
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| bad("expected `key = value`".into()))?;
        let (key, value) = (key.trim(), value.trim());
        match key {
            "id" => {
                if p.id.is_some() {
                    return Err(bad("a second `id` line".into()));
                }
                let id: ApplicationId = value
                    .parse()
                    .map_err(|_| bad(format!("{value:?} is not a UUID")))?;
                p.id = Some(id);
            }
            "description" => {
                if p.description.is_some() {
                    return Err(bad("a second `description` line".into()));
                }
                p.description = Some(value.to_owned());
            }
            "command" => {
                if p.command.is_some() {
                    return Err(bad("a second `command` line".into()));
                }
                let command: Vec<String> = serde_json::from_str(value).map_err(|e| {
                    bad(format!(
                        "the command must be a JSON array of strings like [\"program\", \"arg\"]: {e}"
                    ))
                })?;
                if command.first().is_none_or(|c| c.is_empty()) {
                    return Err(bad("the command is empty".into()));
                }
                p.command = Some(command);
            }
            "data" => {
                if p.data.is_some() {
                    return Err(bad("a second `data` line".into()));
                }
                p.data =
                    Some(DataMode::from_word(value).ok_or_else(|| {
                        bad(format!("data {value:?}: expected file, stdin or none"))
                    })?);
            }
            other => {
                return Err(bad(format!(
                    "unknown key {other:?} (expected id, description, command or data)"
                )))
            }
        }
    }
    if let Some(p) = current.take() {
        finish(&mut list, p)?;
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_is_derived_as_documented() {
        assert_eq!(
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"beckon:application"),
            BECKON_APP_NAMESPACE
        );
        assert_eq!(
            app_id_for_name("chess").to_string(),
            "0279d361-94f7-550d-b553-8e3711ec5d37"
        );
    }

    #[test]
    fn hand_edited_mistakes_name_their_line() {
        let path = Path::new("apps");
        let cases = [
            ("id = 1\nend\n", 1),
            ("[a]\nid = nope\nend\n", 2),
            (
                "[a]\nid = 0279d361-94f7-550d-b553-8e3711ec5d37\ncommand = x\nend\n",
                3,
            ),
            ("[a]\nid = 0279d361-94f7-550d-b553-8e3711ec5d37\nend\n", 1),
            ("[a]\ncommand = [\"x\"]\ncolour = red\nend\n", 3),
        ];
        for (text, line) in cases {
            match parse(path, text) {
                Err(StoreError::Corrupt { line: got, .. }) => assert_eq!(got, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
