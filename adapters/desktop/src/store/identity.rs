//! The identity: an unencrypted OpenSSH ed25519 private key file (mode
//! 0600) whose comment is the nickname, and its public contact card.

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
}

impl std::fmt::Debug for StoredIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredIdentity")
            .field("identity", &self.identity)
            .field("nickname", &self.nickname)
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
    pub fn from_openssh_file(path: &Path) -> Result<Self, StoreError> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| StoreError::io(path, "read", e))?,
        );
        parse(path, &text)
    }
}

/// The identity file's text: an unencrypted OpenSSH private key whose
/// comment is the nickname.
pub fn render(identity: &StoredIdentity) -> Result<Zeroizing<String>, StoreError> {
    let seed = identity.identity.to_seed();
    let keypair = Ed25519Keypair::from_seed(&seed);
    let key = PrivateKey::new(KeypairData::Ed25519(keypair), identity.nickname.clone())
        .map_err(|e| StoreError::invalid(format!("cannot encode the key: {e}")))?;
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
    if key.is_encrypted() {
        let shown = path.display();
        return Err(StoreError::invalid(format!(
            "{shown} is protected by a passphrase, and Beckon keeps its key without one \
             (like an ssh-agent would). Export an unencrypted copy, import it, and delete \
             the copy:\n\
             \x20   cp {shown} /tmp/beckon-key && ssh-keygen -p -N \"\" -f /tmp/beckon-key\n\
             \x20   beckon init --import-openssh /tmp/beckon-key && rm /tmp/beckon-key\n\
             (ssh-keygen asks for the old passphrase once.)"
        )));
    }
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
