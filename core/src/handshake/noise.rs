//! The Noise pieces Beckon needs, built on RustCrypto and dalek primitives:
//! `Noise_NN_25519_ChaChaPoly_SHA512` (Noise revision 34, §5).
//!
//! Only what the NN pattern uses is here: the symmetric state, the cipher
//! state, and Split. It is checked byte for byte against `snow` in
//! `core/tests/interop_snow.rs`.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use hkdf::Hkdf;
use sha2::{Digest, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::ProtocolError;
use crate::wire::frame::TAG_LEN;

/// The Noise protocol name.
pub const PROTOCOL_NAME: &[u8] = b"Noise_NN_25519_ChaChaPoly_SHA512";
/// SHA-512's output length, Noise's HASHLEN.
pub const HASH_LEN: usize = 64;

/// A handshake hash.
pub type HandshakeHash = [u8; HASH_LEN];

/// A Noise CipherState: a key and a nonce counter.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct CipherState {
    key: [u8; 32],
    nonce: u64,
}

impl CipherState {
    fn new(key: [u8; 32]) -> Self {
        CipherState { key, nonce: 0 }
    }

    fn nonce_bytes(&self) -> Nonce {
        let mut n = [0u8; 12];
        if let Some(tail) = n.get_mut(4..) {
            tail.copy_from_slice(&self.nonce.to_le_bytes());
        }
        Nonce::from(n)
    }

    /// Encrypts `buf` in place and returns the tag. The nonce advances only
    /// on success.
    pub(crate) fn encrypt(
        &mut self,
        ad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], ProtocolError> {
        // Noise reserves the nonce 2^64 - 1.
        if self.nonce == u64::MAX {
            return Err(ProtocolError::NonceExhausted);
        }
        let cipher = ChaCha20Poly1305::new(&Key::from(self.key));
        let tag = cipher
            .encrypt_inout_detached(&self.nonce_bytes(), ad, buf.into())
            .map_err(|_| ProtocolError::FieldTooLong)?;
        self.nonce += 1;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(&tag);
        Ok(out)
    }

    /// Decrypts `buf` in place, checking `tag`. On failure `buf` may hold
    /// garbage but the nonce does not advance, so the state is unchanged
    /// (the lesson of RUSTSEC-2024-0011).
    pub(crate) fn decrypt(
        &mut self,
        ad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), ProtocolError> {
        if self.nonce == u64::MAX {
            return Err(ProtocolError::NonceExhausted);
        }
        let cipher = ChaCha20Poly1305::new(&Key::from(self.key));
        cipher
            .decrypt_inout_detached(&self.nonce_bytes(), ad, buf.into(), &Tag::from(*tag))
            .map_err(|_| ProtocolError::Decrypt)?;
        self.nonce += 1;
        Ok(())
    }

    /// Sets the nonce, for tests of the nonce boundary.
    #[cfg(test)]
    pub(crate) fn set_nonce(&mut self, nonce: u64) {
        self.nonce = nonce;
    }
}

/// A Noise SymmetricState.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct SymmetricState {
    ck: [u8; HASH_LEN],
    h: HandshakeHash,
    cipher: Option<CipherState>,
}

impl SymmetricState {
    /// InitializeSymmetric(protocol_name), then MixHash(prologue).
    pub(crate) fn new(prologue: &[u8]) -> Self {
        // The name is shorter than HASHLEN, so h is the name zero-padded.
        let mut h = [0u8; HASH_LEN];
        if let Some(head) = h.get_mut(..PROTOCOL_NAME.len()) {
            head.copy_from_slice(PROTOCOL_NAME);
        }
        let mut state = SymmetricState {
            ck: h,
            h,
            cipher: None,
        };
        state.mix_hash(prologue);
        state
    }

    pub(crate) fn mix_hash(&mut self, data: &[u8]) {
        let mut hasher = Sha512::new();
        hasher.update(self.h);
        hasher.update(data);
        self.h.copy_from_slice(&hasher.finalize());
    }

    /// HKDF(ck, ikm) with two outputs, as RFC 5869 with salt `ck` and empty
    /// info, which is what Noise's HKDF is.
    fn hkdf2(&self, ikm: &[u8]) -> ([u8; HASH_LEN], [u8; HASH_LEN]) {
        let mut okm = [0u8; 2 * HASH_LEN];
        let hk = Hkdf::<Sha512>::new(Some(&self.ck), ikm);
        // 128 bytes is far below HKDF-SHA512's limit of 255 * 64, the only
        // length `expand` refuses, so this never fails.
        let _ = hk.expand(&[], &mut okm);
        let mut a = [0u8; HASH_LEN];
        let mut b = [0u8; HASH_LEN];
        let (x, y) = okm.split_at(HASH_LEN);
        a.copy_from_slice(x);
        b.copy_from_slice(y);
        okm.zeroize();
        (a, b)
    }

    pub(crate) fn mix_key(&mut self, ikm: &[u8]) {
        let (ck, mut temp) = self.hkdf2(ikm);
        self.ck = ck;
        let mut key = [0u8; 32];
        if let Some(k) = temp.get(..32) {
            key.copy_from_slice(k);
        }
        temp.zeroize();
        self.cipher = Some(CipherState::new(key));
        key.zeroize();
    }

    /// EncryptAndHash: `buf[..len]` holds the plaintext and is encrypted in
    /// place; the tag is written after it when there is a key. Returns the
    /// ciphertext length.
    pub(crate) fn encrypt_and_hash(
        &mut self,
        buf: &mut [u8],
        len: usize,
    ) -> Result<usize, ProtocolError> {
        let h = self.h;
        let out_len = match &mut self.cipher {
            None => len,
            Some(cipher) => {
                let (text, rest) = buf
                    .split_at_mut_checked(len)
                    .ok_or(ProtocolError::Malformed)?;
                let tag = cipher.encrypt(&h, text)?;
                rest.get_mut(..TAG_LEN)
                    .ok_or(ProtocolError::Malformed)?
                    .copy_from_slice(&tag);
                len + TAG_LEN
            }
        };
        let ciphertext = buf.get(..out_len).ok_or(ProtocolError::Malformed)?;
        let mut hasher = Sha512::new();
        hasher.update(self.h);
        hasher.update(ciphertext);
        self.h.copy_from_slice(&hasher.finalize());
        Ok(out_len)
    }

    /// DecryptAndHash: `buf` holds the ciphertext (and tag, when there is a
    /// key); it is decrypted in place. Returns the plaintext length. On
    /// failure the state is unchanged.
    pub(crate) fn decrypt_and_hash(&mut self, buf: &mut [u8]) -> Result<usize, ProtocolError> {
        let mut next_h = self.h;
        {
            let mut hasher = Sha512::new();
            hasher.update(self.h);
            hasher.update(&*buf);
            next_h.copy_from_slice(&hasher.finalize());
        }
        let h = self.h;
        let len = match &mut self.cipher {
            None => buf.len(),
            Some(cipher) => {
                let text_len = buf
                    .len()
                    .checked_sub(TAG_LEN)
                    .ok_or(ProtocolError::Malformed)?;
                let (text, tag) = buf.split_at_mut(text_len);
                let mut t = [0u8; TAG_LEN];
                t.copy_from_slice(tag);
                cipher.decrypt(&h, text, &t)?;
                text_len
            }
        };
        self.h = next_h;
        Ok(len)
    }

    /// The handshake hash so far.
    pub(crate) fn handshake_hash(&self) -> &HandshakeHash {
        &self.h
    }

    /// Split: the initiator's sending and the responder's sending cipher.
    pub(crate) fn split(&self) -> (CipherState, CipherState) {
        let (mut a, mut b) = self.hkdf2(&[]);
        let mut k1 = [0u8; 32];
        let mut k2 = [0u8; 32];
        if let (Some(x), Some(y)) = (a.get(..32), b.get(..32)) {
            k1.copy_from_slice(x);
            k2.copy_from_slice(y);
        }
        a.zeroize();
        b.zeroize();
        let out = (CipherState::new(k1), CipherState::new(k2));
        k1.zeroize();
        k2.zeroize();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_decryption_leaves_the_cipher_state_unchanged() {
        let mut send = CipherState::new([3; 32]);
        let mut recv = CipherState::new([3; 32]);
        let mut msg = *b"hello";
        let tag = send.encrypt(&[], &mut msg).unwrap();
        let mut forged = msg;
        forged[0] ^= 1;
        assert_eq!(
            recv.decrypt(&[], &mut forged, &tag),
            Err(ProtocolError::Decrypt)
        );
        assert_eq!(recv.nonce, 0);
        recv.decrypt(&[], &mut msg, &tag).unwrap();
        assert_eq!(&msg, b"hello");
        assert_eq!(recv.nonce, 1);
    }

    #[test]
    fn the_last_nonce_is_never_used() {
        let mut send = CipherState::new([3; 32]);
        send.set_nonce(u64::MAX - 1);
        let mut msg = [0u8; 4];
        assert!(send.encrypt(&[], &mut msg).is_ok());
        assert_eq!(
            send.encrypt(&[], &mut msg),
            Err(ProtocolError::NonceExhausted)
        );
        let mut recv = CipherState::new([3; 32]);
        recv.set_nonce(u64::MAX);
        assert_eq!(
            recv.decrypt(&[], &mut msg, &[0; 16]),
            Err(ProtocolError::NonceExhausted)
        );
    }

    #[test]
    fn a_failed_decrypt_and_hash_leaves_the_hash_unchanged() {
        let mut a = SymmetricState::new(b"p");
        let mut b = SymmetricState::new(b"p");
        a.mix_key(b"ikm");
        b.mix_key(b"ikm");
        let mut buf = [0u8; 4 + TAG_LEN];
        buf[..4].copy_from_slice(b"data");
        let n = a.encrypt_and_hash(&mut buf, 4).unwrap();
        let before = *b.handshake_hash();
        let mut bad = buf;
        bad[0] ^= 0x80;
        assert!(b.decrypt_and_hash(&mut bad[..n]).is_err());
        assert_eq!(b.handshake_hash(), &before);
        assert_eq!(b.decrypt_and_hash(&mut buf[..n]).unwrap(), 4);
        assert_eq!(a.handshake_hash(), b.handshake_hash());
    }
}
