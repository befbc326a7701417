//! Identities: Ed25519 keys and their OpenSSH text forms.
//!
//! A peer's identity is an Ed25519 key pair ([`Identity`]); others know it by
//! its public key ([`PublicKey`]), exchanged as an OpenSSH public-key line
//! (`ssh-ed25519 AAAA... comment`) and shown as an OpenSSH fingerprint
//! (`SHA256:...`, exactly what `ssh-keygen -lf` prints).
//!
//! Weak (small-order) keys are refused wherever a key is made from bytes or
//! text, and every signature is checked with `verify_strict`.

use core::fmt;
use core::str::FromStr;

use base64ct::{Base64, Base64Unpadded, Encoding};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::KeyError;

/// The key type name in OpenSSH's formats.
pub(crate) const SSH_ED25519: &str = "ssh-ed25519";

/// The OpenSSH public-key blob: `string "ssh-ed25519"`, `string key[32]`.
const BLOB_LEN: usize = 4 + 11 + 4 + 32;
/// Base64 of the 51-byte blob, padded (51 is a multiple of 3: no padding).
const BLOB_B64_LEN: usize = 68;
/// Base64 of a SHA-256 digest without padding.
const FINGERPRINT_B64_LEN: usize = 43;

/// An Ed25519 public key: a peer's identity.
///
/// Always the encoding of a valid, non-weak point (checked when it is
/// made). Two keys are equal when their encodings are. It keeps only the 32
/// bytes, not the decompressed point, so that it costs 32 bytes wherever it
/// is stored; the point is decompressed again for each verification, which
/// costs little next to the verification itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Makes a key from its 32-byte encoding, refusing invalid and weak
    /// (small-order) points.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidPoint)?;
        if key.is_weak() {
            return Err(KeyError::WeakKey);
        }
        Ok(PublicKey(key.to_bytes()))
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The 32-byte encoding, borrowed.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The OpenSSH fingerprint, `SHA256:<base64>`.
    pub fn fingerprint(&self) -> Fingerprint {
        let digest = Sha256::digest(self.ssh_blob());
        let mut out = [0u8; 32];
        out.copy_from_slice(&digest);
        Fingerprint(out)
    }

    /// The OpenSSH public-key line with a comment:
    /// `ssh-ed25519 AAAA... comment`. With an empty comment the line ends
    /// after the key data, as `Display` prints it.
    pub fn to_openssh<'a>(&'a self, comment: &'a str) -> OpenSshLine<'a> {
        OpenSshLine { key: self, comment }
    }

    /// Parses an OpenSSH public-key line (`ssh-ed25519 AAAA... [comment]`),
    /// returning the key and the comment (empty if none). Leading and
    /// trailing white space is ignored.
    pub fn parse_openssh(line: &str) -> Result<(PublicKey, &str), KeyError> {
        let line = line.trim();
        if line.is_empty() {
            return Err(KeyError::Empty);
        }
        let (kind, rest) = split_word(line);
        if kind != SSH_ED25519 {
            return Err(KeyError::UnsupportedKeyType);
        }
        let (data, comment) = split_word(rest);
        if data.is_empty() {
            return Err(KeyError::MissingKeyData);
        }
        if data.len() != BLOB_B64_LEN {
            // Decode anyway to say whether it is bad base64 or a bad blob.
            let mut scratch = [0u8; 96];
            return match Base64::decode(data, &mut scratch) {
                Ok(_) => Err(KeyError::MalformedBlob),
                Err(base64ct::Error::InvalidLength) if data.len() > 128 => {
                    Err(KeyError::MalformedBlob)
                }
                Err(_) => Err(KeyError::InvalidBase64),
            };
        }
        let mut blob = [0u8; BLOB_LEN];
        let decoded = Base64::decode(data, &mut blob).map_err(|_| KeyError::InvalidBase64)?;
        if decoded.len() != BLOB_LEN {
            return Err(KeyError::MalformedBlob);
        }
        let key = parse_blob(&blob)?;
        Ok((key, comment))
    }

    /// Checks an Ed25519 signature with `verify_strict`, which rejects
    /// non-canonical encodings and small-order components. This is the one
    /// path every identity proof is checked through.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = Signature::from_bytes(signature);
        // The bytes were checked to decompress when the key was made.
        VerifyingKey::from_bytes(&self.0)
            .is_ok_and(|key| key.verify_strict(message, &signature).is_ok())
    }

    fn ssh_blob(&self) -> [u8; BLOB_LEN] {
        let mut blob = [0u8; BLOB_LEN];
        let (len1, rest) = blob.split_at_mut(4);
        len1.copy_from_slice(&11u32.to_be_bytes());
        let (name, rest) = rest.split_at_mut(11);
        name.copy_from_slice(SSH_ED25519.as_bytes());
        let (len2, key) = rest.split_at_mut(4);
        len2.copy_from_slice(&32u32.to_be_bytes());
        key.copy_from_slice(self.as_bytes());
        blob
    }
}

/// Splits off the first white-space separated word; the rest is trimmed.
fn split_word(s: &str) -> (&str, &str) {
    match s.find(|c: char| c.is_ascii_whitespace()) {
        Some(i) => {
            let (word, rest) = s.split_at(i);
            (word, rest.trim())
        }
        None => (s, ""),
    }
}

fn parse_blob(blob: &[u8; BLOB_LEN]) -> Result<PublicKey, KeyError> {
    let (len1, rest) = blob.split_at(4);
    let (name, rest) = rest.split_at(11);
    let (len2, key) = rest.split_at(4);
    if len1 != 11u32.to_be_bytes() || len2 != 32u32.to_be_bytes() {
        return Err(KeyError::MalformedBlob);
    }
    if name != SSH_ED25519.as_bytes() {
        return Err(KeyError::KeyTypeMismatch);
    }
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(key);
    PublicKey::from_bytes(&bytes)
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

/// Prints the OpenSSH public-key line without a comment.
impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; BLOB_B64_LEN];
        match Base64::encode(&self.ssh_blob(), &mut buf) {
            Ok(b64) => write!(f, "{SSH_ED25519} {b64}"),
            Err(_) => Err(fmt::Error),
        }
    }
}

/// Parses an OpenSSH public-key line; the comment is ignored.
impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PublicKey::parse_openssh(s).map(|(key, _)| key)
    }
}

/// An OpenSSH public-key line with a comment, from
/// [`PublicKey::to_openssh`].
#[derive(Debug, Clone, Copy)]
pub struct OpenSshLine<'a> {
    key: &'a PublicKey,
    comment: &'a str,
}

impl fmt::Display for OpenSshLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.comment.is_empty() {
            write!(f, "{}", self.key)
        } else {
            write!(f, "{} {}", self.key, self.comment)
        }
    }
}

/// The SHA-256 fingerprint of a key's OpenSSH blob, printed as OpenSSH does:
/// `SHA256:` and unpadded base64.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; FINGERPRINT_B64_LEN];
        match Base64Unpadded::encode(&self.0, &mut buf) {
            Ok(b64) => write!(f, "SHA256:{b64}"),
            Err(_) => Err(fmt::Error),
        }
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for PublicKey {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "PublicKey({=[u8]:02x})", &self.0[..]);
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Fingerprint {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "Fingerprint(SHA256 {=[u8]:02x})", &self.0[..]);
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Fingerprint {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b64 = s
            .trim()
            .strip_prefix("SHA256:")
            .ok_or(KeyError::InvalidFingerprint)?;
        if b64.len() != FINGERPRINT_B64_LEN {
            return Err(KeyError::InvalidFingerprint);
        }
        let mut out = [0u8; 32];
        let decoded =
            Base64Unpadded::decode(b64, &mut out).map_err(|_| KeyError::InvalidFingerprint)?;
        if decoded.len() != 32 {
            return Err(KeyError::InvalidFingerprint);
        }
        Ok(Fingerprint(out))
    }
}

/// A peer's own identity: an Ed25519 signing key.
///
/// The secret is zeroized when the value is dropped. `Debug` never prints
/// it.
#[derive(Clone)]
pub struct Identity {
    signing: SigningKey,
}

impl Identity {
    /// Makes an identity from a 32-byte Ed25519 secret seed (as stored in an
    /// OpenSSH private key).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Identity {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// Generates a fresh identity from the caller's random number generator.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Identity::from_seed(&seed)
    }

    /// The 32-byte secret seed, for storing the identity. Handle with care.
    pub fn to_seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing.to_bytes())
    }

    /// The public key others know this identity by.
    pub fn public_key(&self) -> PublicKey {
        // A key derived from a secret scalar clamped as Ed25519 requires is
        // never of small order, so this is never a weak key.
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// Signs a message.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Key and fingerprint produced by `ssh-keygen -t ed25519` and
    // `ssh-keygen -lf` (OpenSSH 9.2).
    const LINE: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKR/nEzfiVWWpMyBMLsF7dBXjhCvLF2k7T239QsUlOcM alice@example";
    const FINGERPRINT: &str = "SHA256:SvEeZOZYJxLclvgpZj+G2/mqFiK8HeKGE5toCoZpPF0";

    #[test]
    fn the_fingerprint_is_what_ssh_keygen_prints() {
        let key: PublicKey = LINE.parse().unwrap();
        let mut s = heapless::String::<64>::new();
        core::fmt::write(&mut s, format_args!("{}", key.fingerprint())).unwrap();
        assert_eq!(s.as_str(), FINGERPRINT);
    }

    #[test]
    fn an_openssh_line_round_trips_with_its_comment() {
        let (key, comment) = PublicKey::parse_openssh(LINE).unwrap();
        assert_eq!(comment, "alice@example");
        let mut s = heapless::String::<200>::new();
        core::fmt::write(&mut s, format_args!("{}", key.to_openssh(comment))).unwrap();
        assert_eq!(s.as_str(), LINE);
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        assert_eq!(PublicKey::parse_openssh("  "), Err(KeyError::Empty));
        assert_eq!(
            PublicKey::parse_openssh("ssh-rsa AAAAB3NzaC1yc2E"),
            Err(KeyError::UnsupportedKeyType)
        );
        assert_eq!(
            PublicKey::parse_openssh("ssh-ed25519"),
            Err(KeyError::MissingKeyData)
        );
        assert_eq!(
            PublicKey::parse_openssh("ssh-ed25519 !!!!"),
            Err(KeyError::InvalidBase64)
        );
        assert_eq!(
            PublicKey::parse_openssh("ssh-ed25519 AAAA"),
            Err(KeyError::MalformedBlob)
        );
    }

    #[test]
    fn a_weak_key_is_refused() {
        // The identity point (0, 1) has order 1.
        let mut bytes = [0u8; 32];
        bytes[0] = 1;
        assert_eq!(PublicKey::from_bytes(&bytes), Err(KeyError::WeakKey));
    }

    #[test]
    fn fingerprints_parse_back() {
        let id = Identity::from_seed(&[7; 32]);
        let fp = id.public_key().fingerprint();
        let mut s = heapless::String::<64>::new();
        core::fmt::write(&mut s, format_args!("{fp}")).unwrap();
        assert!(s.starts_with("SHA256:"));
        assert_eq!(s.parse::<Fingerprint>().unwrap(), fp);
        assert_eq!(
            "SHA256:abc".parse::<Fingerprint>(),
            Err(KeyError::InvalidFingerprint)
        );
    }
}
