//! Reading and atomically writing the home's files.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use super::{StoreError, END_MARKER};

/// Reads a text file, `None` if it does not exist. Bytes that are not UTF-8
/// are an error naming the line; a UTF-8 byte order mark is dropped (see
/// [`decode_text`]).
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, StoreError> {
    super::modes::check_file(path, false)?;
    match fs::read(path) {
        Ok(bytes) => decode_text(path, bytes).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(path, "read", e)),
    }
}

/// The UTF-8 byte order mark some editors (Notepad) put first.
const BOM: &str = "\u{feff}";

/// The text of a list file (contacts, apps, policy) read as `bytes`, as the
/// [`Home`](super::Home) reads it: a UTF-8 byte order mark at the start is
/// dropped (it is an encoding mark, not text), and bytes that are not UTF-8
/// are a [`StoreError::Corrupt`] error naming `path` and the line of the
/// first bad byte.
pub fn decode_text(path: &Path, bytes: Vec<u8>) -> Result<String, StoreError> {
    let mut text = String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + good.iter().filter(|&&b| b == b'\n').count();
        StoreError::corrupt(
            path,
            line,
            "not valid UTF-8 text: save the file as UTF-8 (the encoding of every Beckon file)",
        )
    })?;
    if text.starts_with(BOM) {
        text.drain(..BOM.len());
    }
    Ok(text)
}

/// The lines of a list file that carry content, numbered from 1: comments
/// (`#`) and blank lines are skipped, and the file must end with the line
/// `end` followed by a newline, with nothing but comments after it.
///
/// The final `end` and its newline are how a file that was cut short (a
/// crash, a full disk, an interrupted copy) is told from a whole one, so
/// none of them is guessed: an empty file, a file without `end` or
/// without its final newline, and a line after `end` are errors whose
/// message says what to change.
pub(crate) fn content_lines<'a>(
    path: &Path,
    text: &'a str,
) -> Result<Vec<(usize, &'a str)>, StoreError> {
    const CUT: &str =
        "otherwise it was cut short (an interrupted write or copy?) and lines may be \
                       missing: restore it from a backup";
    if text.is_empty() {
        return Err(StoreError::corrupt(
            path,
            1,
            format!(
                "the file is empty. If it should list nothing, delete it or write the single \
                 line `{END_MARKER}` in it; if it lost its contents (a crash, a full disk?), \
                 restore it from a backup"
            ),
        ));
    }
    let total = text.lines().count();
    if !text.ends_with('\n') {
        let last = text.lines().last().unwrap_or_default().trim();
        let message = if last == END_MARKER {
            format!(
                "the final `{END_MARKER}` line has no newline after it: add one (put the \
                 cursor after `{END_MARKER}`, press Enter, save)"
            )
        } else {
            format!(
                "the file ends without a newline and without its final `{END_MARKER}` line. \
                 If you edited it by hand, end it with a line `{END_MARKER}` and a newline; {CUT}"
            )
        };
        return Err(StoreError::corrupt(path, total.max(1), message));
    }
    let mut out = Vec::new();
    let mut end_line = None;
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(end_line) = end_line {
            return Err(StoreError::corrupt(
                path,
                number,
                format!(
                    "this line comes after the final `{END_MARKER}` line (line {end_line}): \
                     move `{END_MARKER}` below it, to the end of the file (only comments may \
                     follow `{END_MARKER}`)"
                ),
            ));
        }
        if line == END_MARKER {
            end_line = Some(number);
            continue;
        }
        out.push((number, line));
    }
    if end_line.is_none() {
        return Err(StoreError::corrupt(
            path,
            total + 1,
            format!(
                "the file ends without its final `{END_MARKER}` line. If you edited it by hand, \
                 add a last line `{END_MARKER}`; {CUT}"
            ),
        ));
    }
    Ok(out)
}

/// Replaces `path` atomically: writes a temporary file next to it (a new
/// name, created with `O_EXCL` and, on Unix, mode 0600 and `O_NOFOLLOW`
/// semantics: `tempfile::NamedTempFile::new_in`, so a planted file or
/// symbolic link is never written through), fsyncs it, sets `mode` (Unix;
/// default 0644), renames it over `path`, and fsyncs the directory.
pub(crate) fn write_atomic(
    path: &Path,
    contents: &[u8],
    mode: Option<u32>,
) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let result = (|| {
        let mut file = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.as_file()
                .set_permissions(fs::Permissions::from_mode(mode.unwrap_or(0o644)))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        file.write_all(contents)?;
        file.as_file().sync_all()?;
        // On error the temporary file is removed when `file` drops.
        file.persist(path).map_err(|e| e.error)?;
        Ok::<(), io::Error>(())
    })();
    result.map_err(|e| StoreError::io(path, "write", e))?;
    sync_dir(dir).map_err(|e| StoreError::io(dir, "sync the directory", e))
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
