//! The primitives one at a time, on dalek (what the core and the floor
//! use, as built) and on ring (what rustls uses here), so that the report
//! can say where an exchange's time goes and why rustls is as fast as it
//! is.
//!
//! Each workload is one side's share: an X25519 key generation and
//! Diffie–Hellman; an ed25519 signature of 88 bytes; an ed25519
//! verification of 88 bytes from the key's 32 bytes (decompression
//! included, as both libraries must). The Noise hashing and the AEAD work
//! are the whole exchange's (both sides), on dalek's side only.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hkdf::Hkdf;
use rand_core::Rng;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use sha2::{Digest, Sha512};
use x25519_dalek::{PublicKey as DhPublic, StaticSecret};

use crate::exchange::{ALICE_SEED, BOB_SEED};
use crate::BenchRng;

/// The message both libraries sign: a label and a 64-byte hash.
const MESSAGE: [u8; 88] = [0x5a; 88];

/// Keys and a signature for both libraries.
pub struct Primitives {
    dalek: SigningKey,
    dalek_sig: [u8; 64],
    peer_dh: DhPublic,
    ring: Ed25519KeyPair,
    ring_sig: Vec<u8>,
    ring_rng: ring::rand::SystemRandom,
    ring_peer: Vec<u8>,
}

impl Default for Primitives {
    fn default() -> Self {
        Primitives::new()
    }
}

impl Primitives {
    /// Fixed keys (the bench's identities), one signature each.
    pub fn new() -> Self {
        let dalek = SigningKey::from_bytes(&ALICE_SEED);
        let dalek_sig = dalek.sign(&MESSAGE).to_bytes();
        let ring = Ed25519KeyPair::from_seed_unchecked(&ALICE_SEED).expect("a valid seed");
        let ring_sig = ring.sign(&MESSAGE).as_ref().to_vec();
        let peer_dh = DhPublic::from(&StaticSecret::from(BOB_SEED));
        Primitives {
            dalek,
            dalek_sig,
            ring_peer: peer_dh.as_bytes().to_vec(),
            peer_dh,
            ring,
            ring_sig,
            ring_rng: ring::rand::SystemRandom::new(),
        }
    }

    /// dalek: X25519 key generation and Diffie–Hellman (one side).
    #[inline(never)]
    pub fn dalek_x25519(&self, rng: &mut BenchRng) -> bool {
        let mut e = [0u8; 32];
        rng.fill_bytes(&mut e);
        let s = StaticSecret::from(e);
        let p = DhPublic::from(&s);
        let shared = s.diffie_hellman(&self.peer_dh);
        std::hint::black_box(p);
        shared.was_contributory()
    }

    /// ring: X25519 key generation and agreement (one side).
    #[inline(never)]
    pub fn ring_x25519(&self) -> bool {
        use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, X25519};
        let Ok(private) = EphemeralPrivateKey::generate(&X25519, &self.ring_rng) else {
            return false;
        };
        let public_ok = private.compute_public_key().is_ok();
        let peer = UnparsedPublicKey::new(&X25519, &self.ring_peer);
        public_ok && agree_ephemeral(private, &peer, |k| k[0]).is_ok()
    }

    /// dalek: an ed25519 signature.
    #[inline(never)]
    pub fn dalek_sign(&self) -> bool {
        self.dalek.sign(std::hint::black_box(&MESSAGE)).to_bytes()[63] & 0xe0 == 0
    }

    /// ring: an ed25519 signature.
    #[inline(never)]
    pub fn ring_sign(&self) -> bool {
        self.ring.sign(std::hint::black_box(&MESSAGE)).as_ref()[63] & 0xe0 == 0
    }

    /// dalek: decompress the key, `verify_strict`.
    #[inline(never)]
    pub fn dalek_verify(&self) -> bool {
        let key = std::hint::black_box(self.dalek.verifying_key().to_bytes());
        VerifyingKey::from_bytes(&key).is_ok_and(|k| {
            k.verify_strict(&MESSAGE, &Signature::from_bytes(&self.dalek_sig))
                .is_ok()
        })
    }

    /// ring: verify from the key's bytes.
    #[inline(never)]
    pub fn ring_verify(&self) -> bool {
        let key = std::hint::black_box(self.ring.public_key().as_ref());
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
            .verify(&MESSAGE, &self.ring_sig)
            .is_ok()
    }

    /// The whole exchange's Noise hashing: 10 SHA-512 of 64–176 bytes and
    /// 4 HKDF-SHA512 with two outputs.
    #[inline(never)]
    pub fn noise_hashing(&self) -> bool {
        let mut h = [7u8; 64];
        let mut ck = [9u8; 64];
        let data = [3u8; 112];
        for _ in 0..2 {
            for len in [7, 32, 0, 32, 112] {
                let mut hasher = Sha512::new();
                hasher.update(h);
                hasher.update(&data[..len]);
                h.copy_from_slice(&hasher.finalize());
            }
            for ikm in [&h[..32], &[][..]] {
                let mut okm = [0u8; 128];
                let _ = Hkdf::<Sha512>::new(Some(&ck), ikm).expand(&[], &mut okm);
                ck.copy_from_slice(&okm[..64]);
            }
        }
        std::hint::black_box(ck)[0] != 1 || h[0] != 1
    }

    /// The whole exchange's AEAD work: seal and open 96 bytes (64 bytes
    /// of AD), 115 bytes and 2 bytes.
    #[inline(never)]
    pub fn aead(&self) -> bool {
        let cipher = |k: u8| ChaCha20Poly1305::new(&Key::from([k; 32]));
        let mut ok = true;
        let mut buf = [0u8; 115];
        for (len, ad) in [(96usize, &[1u8; 64][..]), (115, &[][..]), (2, &[][..])] {
            let nonce = Nonce::from([0u8; 12]);
            let text = &mut buf[..len];
            let Ok(tag) = cipher(1).encrypt_inout_detached(&nonce, ad, text.into()) else {
                return false;
            };
            ok &= cipher(1)
                .decrypt_inout_detached(&nonce, ad, text.into(), &tag)
                .is_ok();
        }
        ok
    }
}

/// Whether the dalek crates are built with their precomputed base-point
/// tables (this crate's `fast-dalek` feature; off in the workspace's
/// default build, as `beckon-tokio` builds them today).
pub const DALEK_TABLES: bool = cfg!(feature = "fast-dalek");
