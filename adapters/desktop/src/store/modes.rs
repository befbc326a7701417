//! The home is checked the way sshd's `StrictModes` checks `~/.ssh`: a
//! file that someone else could have written decides who may launch
//! applications on this computer, so Beckon refuses to use it.
//!
//! * The home directory and every file Beckon reads from it must be owned
//!   by the user running `beckon` and not writable by group or others.
//! * The identity (the private key) must also not be readable by group or
//!   others.
//!
//! Each refusal is a [`StoreError::Permission`] naming the path, what is
//! wrong, and the command that fixes it. On platforms other than Unix the
//! modes are not checked (there is no owner and mode to check the same
//! way); [`CHECKED`] says which.

use std::path::Path;

use super::StoreError;

/// Whether this platform's build checks owners and modes.
pub const CHECKED: bool = cfg!(unix);

/// Checks a directory or file of the home that exists; a missing one is
/// fine (nothing to trust yet). `secret` adds: not readable by others.
#[cfg(unix)]
pub(crate) fn check(path: &Path, secret: bool) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io(path, "check", e)),
    };
    let me = rustix::process::geteuid().as_raw();
    let shown = path.display();
    if meta.uid() != me {
        return Err(StoreError::Permission {
            path: path.to_path_buf(),
            problem: format!(
                "it is owned by user id {}, not by you (user id {me})",
                meta.uid()
            ),
            fix: format!("chown \"$(id -u)\" {shown}"),
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(StoreError::Permission {
            path: path.to_path_buf(),
            problem: format!("it can be written by group or others (mode {mode:o})"),
            fix: format!("chmod go-w {shown}"),
        });
    }
    if secret && mode & 0o077 != 0 {
        return Err(StoreError::Permission {
            path: path.to_path_buf(),
            problem: format!(
                "it holds your private key and can be read by group or others (mode {mode:o})"
            ),
            fix: format!("chmod 600 {shown}"),
        });
    }
    Ok(())
}

/// Not checked on this platform (see the module's documentation).
#[cfg(not(unix))]
pub(crate) fn check(_path: &Path, _secret: bool) -> Result<(), StoreError> {
    Ok(())
}

/// Checks a file of the home and the directory holding it.
pub(crate) fn check_file(path: &Path, secret: bool) -> Result<(), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        check(dir, false)?;
    }
    check(path, secret)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    fn set(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A file `name` of mode `mode`, in a fresh directory of mode 700:
    /// one the check accepts (as a secret if `secret`), which it asserts.
    fn accepted_file(name: &str, mode: u32, secret: bool) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(name);
        fs::write(&file, "end\n").unwrap();
        set(dir.path(), 0o700);
        set(&file, mode);
        check_file(&file, secret).unwrap();
        (dir, file)
    }

    /// Why `path` is refused (as a secret if `secret`) once its mode is
    /// `mode`.
    fn refused_at(path: &Path, mode: u32, secret: bool) -> String {
        set(path, mode);
        check_file(path, secret).unwrap_err().to_string()
    }

    #[test]
    fn group_or_world_writable_is_refused_and_named() {
        let (dir, file) = accepted_file("contacts", 0o644, false);
        let text = refused_at(&file, 0o664, false);
        assert!(text.contains("contacts"), "{text}");
        assert!(text.contains("mode 664"), "{text}");
        assert!(text.contains("chmod go-w"), "{text}");
        set(&file, 0o644);
        set(dir.path(), 0o777);
        let e = check_file(&file, false).unwrap_err();
        assert!(e.to_string().contains("mode 777"), "{e}");
    }

    #[test]
    fn a_secret_readable_by_others_is_refused() {
        let (_dir, key) = accepted_file("identity", 0o600, true);
        let text = refused_at(&key, 0o640, true);
        assert!(text.contains("chmod 600"), "{text}");
        // Not a secret: readable is fine.
        check_file(&key, false).unwrap();
    }

    #[test]
    fn a_file_owned_by_someone_else_is_refused() {
        // Only root can give a file away.
        if rustix::process::geteuid().as_raw() != 0 {
            return;
        }
        let (_dir, file) = accepted_file("apps", 0o644, false);
        std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
        let e = check_file(&file, false).unwrap_err();
        assert!(e.to_string().contains("owned by user id 65534"), "{e}");
    }

    #[test]
    fn a_missing_path_is_nothing_to_check() {
        let dir = tempfile::tempdir().unwrap();
        check_file(&dir.path().join("nothing"), true).unwrap();
    }
}
