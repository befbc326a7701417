//! The identity: an OpenSSH ed25519 private key file (mode 0600) whose
//! comment is the nickname, and its public contact card.
//!
//! The key file is what `ssh-keygen -t ed25519` writes. Created by `beckon
//! init`, it is not encrypted (protected by its mode and the home's
//! checks, like an unencrypted `~/.ssh/id_ed25519`). An imported key that
//! has a passphrase keeps it: the file stays encrypted with the same
//! passphrase (bcrypt-pbkdf and AES-256-CTR when Beckon rewrites it), and
//! every command that needs the key asks for the passphrase once at start
//! (see [`passphrase`]); it is held in memory, zeroized after use, and
//! never written anywhere.

use std::path::Path;

use beckon_core::Identity;
use ssh_key::private::{Ed25519Keypair, KeypairData};
use ssh_key::{LineEnding, PrivateKey};
use zeroize::Zeroizing;

use super::file::write_atomic;
use super::{Home, StoreError, CARD_FILE, IDENTITY_FILE};

/// The identity and the nickname it is published under.
#[derive(Clone)]
pub struct StoredIdentity {
    /// The key pair.
    pub identity: Identity,
    /// The nickname: the comment of the contact card.
    pub nickname: String,
    /// The passphrase the key file is encrypted with, if it is: kept in
    /// memory only (zeroized on drop), so that a rewrite of the file (a
    /// new nickname) keeps it encrypted.
    pub passphrase: Option<Zeroizing<String>>,
}

/// The environment variable naming a file that holds the identity's
/// passphrase, for services that cannot answer a prompt (a systemd
/// credential, say: `LoadCredential=` and
/// `BECKON_PASSPHRASE_FILE=%d/beckon-passphrase`). One trailing newline is
/// ignored.
pub const PASSPHRASE_FILE_ENV: &str = "BECKON_PASSPHRASE_FILE";

/// The passphrase of the encrypted key file at `path`: read from the file
/// [`PASSPHRASE_FILE_ENV`] names when it is set, else asked on the
/// terminal (without echo). With neither, a [`StoreError::NotFound`] that
/// says how to give it.
pub fn passphrase(path: &Path) -> Result<Zeroizing<String>, StoreError> {
    if let Some(file) = std::env::var_os(PASSPHRASE_FILE_ENV).filter(|f| !f.is_empty()) {
        let file = std::path::PathBuf::from(file);
        // It holds a secret: the same checks as the key (owner, mode).
        super::modes::check(&file, true)?;
        let text = Zeroizing::new(
            std::fs::read_to_string(&file).map_err(|e| StoreError::io(&file, "read", e))?,
        );
        let pass = text.strip_suffix('\n').unwrap_or(&text);
        let pass = pass.strip_suffix('\r').unwrap_or(pass);
        return Ok(Zeroizing::new(pass.to_owned()));
    }
    rpassword::prompt_password(format!("passphrase for {}: ", path.display()))
        .map(Zeroizing::new)
        .map_err(|e| {
            StoreError::NotFound(format!(
                "{} is protected by a passphrase, and there is no terminal to ask it on ({e}); \
                 set {PASSPHRASE_FILE_ENV} to a file that holds it (mode 0600)",
                path.display()
            ))
        })
}

impl std::fmt::Debug for StoredIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredIdentity")
            .field("identity", &self.identity)
            .field("nickname", &self.nickname)
            .field("encrypted", &self.passphrase.is_some())
            .finish()
    }
}

impl StoredIdentity {
    /// The contact card: `ssh-ed25519 AAAA... nickname`.
    pub fn card(&self) -> String {
        self.identity
            .public_key()
            .to_openssh(&self.nickname)
            .to_string()
    }

    /// Reads an OpenSSH ed25519 private key file (for `beckon init
    /// --import-openssh` and for loading the home's identity); see
    /// [`parse_identity`](super::parse_identity).
    ///
    /// A key protected by a passphrase is decrypted with the one
    /// [`passphrase`] gives (asked once).
    pub fn from_openssh_file(path: &Path) -> Result<Self, StoreError> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| StoreError::io(path, "read", e))?,
        );
        parse_with(path, &text, &mut || passphrase(path))
    }
}

/// The identity file's text: an OpenSSH private key whose comment is the
/// nickname, encrypted with the identity's passphrase if it has one.
pub fn render(identity: &StoredIdentity) -> Result<Zeroizing<String>, StoreError> {
    let seed = identity.identity.to_seed();
    let keypair = Ed25519Keypair::from_seed(&seed);
    let mut key = PrivateKey::new(KeypairData::Ed25519(keypair), identity.nickname.clone())
        .map_err(|e| StoreError::invalid(format!("cannot encode the key: {e}")))?;
    if let Some(pass) = &identity.passphrase {
        key = key
            .encrypt(&mut ssh_key::rand_core::OsRng, pass.as_bytes())
            .map_err(|e| StoreError::invalid(format!("cannot encrypt the key: {e}")))?;
    }
    key.to_openssh(LineEnding::LF)
        .map_err(|e| StoreError::invalid(format!("cannot encode the key: {e}")))
}

/// Parses the text of an OpenSSH ed25519 private key file at `path` (which
/// only names it in errors). The nickname is the key's comment, trimmed. A
/// public key, another format, an encrypted key, another algorithm or a
/// key whose halves do not match is a [`StoreError::Invalid`] whose message
/// names `path` and says what to do (these files are not edited by hand,
/// so the message names no line).
pub fn parse(path: &Path, text: &str) -> Result<StoredIdentity, StoreError> {
    parse_with(path, text, &mut || {
        Err(StoreError::invalid(format!(
            "{} is protected by a passphrase, and none was given",
            path.display()
        )))
    })
}

/// As [`parse`], decrypting a key protected by a passphrase with the one
/// `passphrase` gives (called at most once). A wrong passphrase is a
/// [`StoreError::Invalid`] naming the file.
pub fn parse_with(
    path: &Path,
    text: &str,
    passphrase: &mut dyn FnMut() -> Result<Zeroizing<String>, StoreError>,
) -> Result<StoredIdentity, StoreError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with("ssh-") {
        return Err(StoreError::invalid(format!(
            "{} is a public key; give the private key file (the one without .pub)",
            path.display()
        )));
    }
    if trimmed.starts_with("-----BEGIN") && !trimmed.starts_with("-----BEGIN OPENSSH") {
        return Err(StoreError::invalid(format!(
            "{} is not in the OpenSSH private key format (it may be PEM/PKCS#8); \
             only OpenSSH ed25519 keys (`ssh-keygen -t ed25519`) can be imported",
            path.display()
        )));
    }
    let key = PrivateKey::from_openssh(text.as_bytes()).map_err(|e| {
        StoreError::invalid(format!(
            "{} is not an OpenSSH private key: {e}",
            path.display()
        ))
    })?;
    let mut used = None;
    let key = if key.is_encrypted() {
        let pass = passphrase()?;
        let open = key.decrypt(pass.as_bytes()).map_err(|_| {
            StoreError::invalid(format!(
                "wrong passphrase for {} (nothing was changed)",
                path.display()
            ))
        })?;
        used = Some(pass);
        open
    } else {
        key
    };
    let KeypairData::Ed25519(pair) = key.key_data() else {
        return Err(StoreError::invalid(format!(
            "{} is a {} key; Beckon identities are ed25519 keys (ssh-keygen -t ed25519)",
            path.display(),
            key.algorithm()
        )));
    };
    let seed = Zeroizing::new(pair.private.to_bytes());
    let identity = Identity::from_seed(&seed);
    if identity.public_key().as_bytes() != pair.public.as_ref() {
        return Err(StoreError::invalid(format!(
            "{}: the public key in the file does not match its private key",
            path.display()
        )));
    }
    Ok(StoredIdentity {
        identity,
        nickname: key.comment().trim().to_owned(),
        passphrase: used,
    })
}

/// Loads the home's identity.
pub(crate) fn load(home: &Home) -> Result<StoredIdentity, StoreError> {
    let path = home.path(IDENTITY_FILE);
    if !path.exists() {
        return Err(StoreError::NoIdentity(home.dir().to_path_buf()));
    }
    super::modes::check_file(&path, true)?;
    StoredIdentity::from_openssh_file(&path)
}

/// Writes the identity and its card, keeping a copy of an identity it
/// replaces (returned). The caller holds the exclusive lock.
pub(crate) fn save(
    home: &Home,
    id: &StoredIdentity,
    force: bool,
) -> Result<Option<std::path::PathBuf>, StoreError> {
    let path = home.path(IDENTITY_FILE);
    let mut backup = None;
    if path.exists() {
        if !force {
            let current = load(home)
                .map(|c| format!(" ({})", c.identity.public_key().fingerprint()))
                .unwrap_or_default();
            return Err(StoreError::invalid(format!(
                "an identity already exists at {}{current}; \
                 replacing it changes who you are to every contact, so it needs --force",
                path.display()
            )));
        }
        let old =
            Zeroizing::new(std::fs::read(&path).map_err(|e| StoreError::io(&path, "read", e))?);
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let copy = home.path(&format!("{IDENTITY_FILE}.old-{secs}"));
        write_atomic(&copy, &old, Some(0o600))?;
        backup = Some(copy);
    }
    write(home, id)?;
    Ok(backup)
}

/// Writes the identity and its card over what is there.
pub(crate) fn write(home: &Home, id: &StoredIdentity) -> Result<(), StoreError> {
    let pem = render(id)?;
    write_atomic(&home.path(IDENTITY_FILE), pem.as_bytes(), Some(0o600))?;
    let card = format!("{}\n", id.card());
    write_atomic(&home.path(CARD_FILE), card.as_bytes(), Some(0o644))
}
