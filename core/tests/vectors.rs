//! The test vectors of `docs/protocol.md`, checked against the code.
//!
//! The specification carries its vectors in fenced code blocks whose info
//! string is `vectors`: one `key = value` per line, `#` comment lines, hex
//! that may continue on indented lines, text in double quotes. This test
//! reads them from the document and checks them three ways:
//!
//! 1. **The code produces them.** Each exchange is run through the public
//!    API with the listed seeds, ephemeral secrets, invitation and
//!    directory, stepped by hand; every frame must equal the document's,
//!    byte for byte, in the document's order. Keys, OpenSSH lines,
//!    fingerprints, frame sizes and payload encodings likewise.
//! 2. **The prose describes them.** An independent implementation of §6–§7,
//!    written here from the specification's text (SHA-512, HKDF, X25519,
//!    ChaCha20-Poly1305, Ed25519 `verify_strict`), recomputes the handshake
//!    hashes and keys, opens every sealed frame of the document, checks the
//!    plaintexts and both identity signatures, and parses the Invite by the
//!    layout of §5.3.
//! 3. **The annotated breakdowns add up.** Every `breakdown` block's hex,
//!    concatenated, is the frame or plaintext it annotates.
//!
//! And no key of an exchange goes unchecked: an unknown key is an error.
//!
//! On a mismatch the failure lists the values the code produced, in the
//! document's format, ready to paste.

use std::fmt::Write as _;
use std::path::PathBuf;

use base64ct::{Base64, Base64Unpadded, Encoding};
use beckon_core::internal::frame::{self, FrameKind};
use beckon_core::internal::payload::{self, AnswerMessage, InviterMessage, SealedRefusal};
use beckon_core::wire::{refusal_frame, ClearRefusal, DEFAULT_BUFFER};
use beckon_core::*;
use beckon_testkit::{drain_events, transmitted};
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use embassy_time::Instant;
use hkdf::Hkdf;
use sha2::{Digest, Sha256, Sha512};

/// Hex is wrapped at this many digits per line in the document.
const WRAP: usize = 64;

// ---------------------------------------------------------------------------
// Reading the document

fn document() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// One `vectors` block.
#[derive(Debug)]
struct Vector {
    name: String,
    fields: Vec<(String, String)>,
}

impl Vector {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A value as written (hex, a word, a number).
    fn raw(&self, key: &str) -> &str {
        self.get(key)
            .unwrap_or_else(|| panic!("vector {}: no `{key}`", self.name))
    }

    /// A quoted text value, without its quotes.
    fn text(&self, key: &str) -> &str {
        let v = self.raw(key);
        v.strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or_else(|| panic!("vector {}: `{key}` is not quoted text", self.name))
    }

    fn hex(&self, key: &str) -> Vec<u8> {
        hex::decode(self.raw(key))
            .unwrap_or_else(|e| panic!("vector {}: `{key}` is not hex: {e}", self.name))
    }

    fn hex32(&self, key: &str) -> [u8; 32] {
        self.hex(key)
            .try_into()
            .unwrap_or_else(|_| panic!("vector {}: `{key}` is not 32 bytes", self.name))
    }
}

/// Every `vectors` block of the document, in order.
fn vectors(doc: &str) -> Vec<Vector> {
    let mut out = Vec::new();
    let mut fields: Option<Vec<(String, String)>> = None;
    for line in doc.lines() {
        let trimmed = line.trim();
        let Some(current) = fields.as_mut() else {
            if trimmed == "```vectors" {
                fields = Some(Vec::new());
            }
            continue;
        };
        if trimmed.starts_with("```") {
            let fields = fields.take().unwrap_or_default();
            let name = fields
                .iter()
                .find(|(k, _)| k == "name")
                .map(|(_, v)| v.clone())
                .expect("every vectors block has a `name`");
            out.push(Vector { name, fields });
        } else if trimmed.is_empty() || trimmed.starts_with('#') {
        } else if line.starts_with(char::is_whitespace) {
            let (_, value) = current
                .last_mut()
                .expect("a continuation line follows a key");
            value.push_str(trimmed);
        } else {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not `key = value`: {line:?}"));
            let key = key.trim().to_owned();
            assert!(
                current.iter().all(|(k, _)| *k != key),
                "`{key}` twice in one vectors block"
            );
            current.push((key, value.trim().to_owned()));
        }
    }
    assert!(fields.is_none(), "unterminated vectors block");
    out
}

/// The vectors of the document.
fn all_vectors() -> Vec<Vector> {
    vectors(&document())
}

fn vector<'a>(all: &'a [Vector], name: &str) -> &'a Vector {
    all.iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no vectors block named {name}"))
}

/// The hex of every `breakdown <vector> <key>` block: on each line, what
/// comes before `#`.
fn breakdowns(doc: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String, String)> = None;
    for line in doc.lines() {
        let trimmed = line.trim();
        match current.as_mut() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```breakdown ") {
                    let mut words = info.split_whitespace();
                    let (Some(v), Some(k), None) = (words.next(), words.next(), words.next())
                    else {
                        panic!("a breakdown block names a vector and a key: {line:?}");
                    };
                    current = Some((v.to_owned(), k.to_owned(), String::new()));
                }
            }
            Some(block) => {
                if trimmed.starts_with("```") {
                    out.extend(current.take());
                } else {
                    let hex_part = trimmed.split('#').next().unwrap_or("");
                    block.2.extend(hex_part.split_whitespace());
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Comparing, and printing what the code produced

#[derive(Default)]
struct Report {
    failures: Vec<String>,
}

impl Report {
    /// Checks that the document's `key` in `v` is `actual`.
    fn check(&mut self, v: &Vector, key: &str, actual: impl Into<String>) {
        let actual = actual.into();
        match v.get(key) {
            Some(doc) if doc.eq_ignore_ascii_case(&actual) => {}
            doc => self.failures.push(format!(
                "[{}] `{key}`: the document has {doc:?}; this test computes:\n{}",
                v.name,
                render(key, &actual)
            )),
        }
    }

    fn check_hex(&mut self, v: &Vector, key: &str, bytes: &[u8]) {
        self.check(v, key, hex::encode(bytes));
    }

    fn check_text(&mut self, v: &Vector, key: &str, text: &str) {
        self.check(v, key, format!("\"{text}\""));
    }

    fn fail(&mut self, message: String) {
        self.failures.push(message);
    }

    fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{} mismatch(es) with docs/protocol.md:\n\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

/// `key = value` as the document writes it: long hex on indented lines.
fn render(key: &str, value: &str) -> String {
    let is_hex = value.len() > WRAP && value.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_hex {
        return format!("{key} = {value}\n");
    }
    let mut s = format!("{key} =\n");
    for chunk in value.as_bytes().chunks(WRAP) {
        let _ = writeln!(s, "    {}", String::from_utf8_lossy(chunk));
    }
    s
}

// ---------------------------------------------------------------------------
// Running an exchange through the public API

fn policy(v: &Vector) -> Policy {
    match v.raw("policy") {
        "off" => Policy::Off,
        "trusted_only" => Policy::TrustedOnly,
        "anyone" => Policy::Anyone,
        other => panic!("unknown policy {other}"),
    }
}

fn refusal_name(reason: Refusal) -> String {
    match reason {
        Refusal::NotTrusted => "not_trusted".into(),
        Refusal::Blocked => "blocked".into(),
        Refusal::ApplicationNotRegistered => "application_not_registered".into(),
        Refusal::InvitationsOff => "invitations_off".into(),
        Refusal::Busy => "busy".into(),
        Refusal::TooLarge => "too_large".into(),
    }
}

fn inviter_result(outcome: Option<Result<Response, SessionError>>) -> String {
    match outcome {
        Some(Ok(Response::Accepted)) => "accepted".into(),
        Some(Ok(Response::Declined)) => "declined".into(),
        Some(Ok(Response::Expired)) => "expired".into(),
        Some(Ok(Response::Error { code })) => format!("error {code}"),
        Some(Err(SessionError::Refused {
            reason,
            authenticated,
        })) => format!(
            "refused {} {}",
            refusal_name(reason),
            if authenticated {
                "authenticated"
            } else {
                "unauthenticated"
            }
        ),
        Some(Err(SessionError::Cancelled)) => "cancelled".into(),
        other => format!("{other:?}"),
    }
}

fn invitee_result(outcome: Option<InviteeOutcome>) -> String {
    match outcome {
        Some(InviteeOutcome::Accepted(_)) => "accepted".into(),
        Some(InviteeOutcome::Declined) => "declined".into(),
        Some(InviteeOutcome::Error { code }) => format!("error {code}"),
        Some(InviteeOutcome::Expired) => "expired".into(),
        Some(InviteeOutcome::Cancelled) => "cancelled".into(),
        Some(InviteeOutcome::Refused(reason)) => format!("refused {}", refusal_name(reason)),
        other => format!("{other:?}"),
    }
}

/// Everything a side has to transmit, drained through a small buffer.
fn drain<M: Machine>(m: &mut M) -> Vec<u8> {
    transmitted(m, 1024)
}

/// Names a frame by its kind byte and direction, checking it is exactly
/// one whole frame.
fn frame_name(bytes: &[u8], from_inviter: bool, cancelled: bool) -> &'static str {
    assert!(bytes.len() >= 3, "a frame has a length and a kind");
    let len = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
    assert_eq!(len + 2, bytes.len(), "one write is one whole frame");
    match (FrameKind::from_byte(bytes[2]), from_inviter) {
        (Ok(FrameKind::Hello), true) => "hello",
        (Ok(FrameKind::Proof), false) => "proof",
        (Ok(FrameKind::Refusal), false) => "refusal",
        (Ok(FrameKind::Sealed), true) if cancelled => "cancel",
        (Ok(FrameKind::Sealed), true) => "invite",
        (Ok(FrameKind::Sealed), false) => "answer",
        (kind, _) => panic!("unexpected frame {kind:?}"),
    }
}

/// Runs the exchange of `v` through `Inviter` and `Invitee`, stepping by
/// hand, and checks every frame and both results against the document.
fn run_exchange(v: &Vector, report: &mut Report) {
    let now = Instant::from_secs(0);
    let inviter_id = Identity::from_seed(&v.hex32("seed_inviter"));
    let invitee_id = Identity::from_seed(&v.hex32("seed_invitee"));

    let application: ApplicationId = v.text("application").parse().expect("a UUID");
    let mut directory = FixedDirectory::<4>::new(policy(v));
    match v.raw("inviter_contact") {
        "none" => {}
        permission => {
            let permission = match permission {
                "allowed" => Permission::Allowed,
                "blocked" => Permission::Blocked,
                other => panic!("unknown permission {other}"),
            };
            let contact = Contact::new(inviter_id.public_key(), "inviter", "").expect("valid");
            directory
                .add_contact(contact.with_permission(permission))
                .expect("room");
        }
    }
    if v.raw("registered") == "yes" {
        directory.register(application, "app").expect("room");
    }

    let data = v.hex("data");
    let invitation = Invitation::new(application, v.text("message"), &data).expect("valid");
    let target = match v.raw("target") {
        "contact" => Target::Contact(invitee_id.public_key()),
        "endpoint" => Target::AnyEndpoint,
        other => panic!("unknown target {other}"),
    };
    let mut inviter: Inviter = Inviter::new(
        Config::default(),
        &inviter_id,
        target,
        &invitation,
        EphemeralSecret::from_bytes(v.hex32("eph_inviter")),
        now,
    )
    .expect("valid inviter");
    let mut invitee: Invitee = Invitee::new(
        Config::default(),
        &invitee_id,
        EphemeralSecret::from_bytes(v.hex32("eph_invitee")),
        now,
    )
    .expect("valid invitee");

    // Each step: one side sends what it has, the other takes all of it.
    let sequence: std::cell::RefCell<Vec<&str>> = Default::default();
    let record_as = |bytes: &[u8], name: &'static str, report: &mut Report| {
        frame_name(bytes, true, false);
        report.check_hex(v, name, bytes);
        sequence.borrow_mut().push(name);
    };
    let record = |bytes: &[u8], from_inviter: bool, cancelled: bool, report: &mut Report| {
        let name = frame_name(bytes, from_inviter, cancelled);
        report.check_hex(v, name, bytes);
        sequence.borrow_mut().push(name);
    };

    let hello = drain(&mut inviter);
    record(&hello, true, false, report);
    invitee.handle_input(now, &hello, &directory);
    let reply = drain(&mut invitee);
    record(&reply, false, false, report);
    inviter.handle_input(now, &reply, &());

    let invite = drain(&mut inviter);
    if !invite.is_empty() {
        assert_eq!(inviter.responder(), Some(invitee_id.public_key()));
        record(&invite, true, false, report);
        invitee.handle_input(now, &invite, &directory);
        assert_eq!(invitee.inviter(), Some(inviter_id.public_key()));
        let mut answer = drain(&mut invitee);
        if answer.is_empty() {
            assert!(invitee.is_prompting(), "no answer, so a prompt is up");
            let shown = invitee.invitation().expect("the invitation is readable");
            assert_eq!(shown.application(), application);
            assert_eq!(shown.message(), v.text("message"));
            assert_eq!(shown.data(), &data[..]);
            let message = v.get("answer_message").map(|_| v.text("answer_message"));
            let message = message.unwrap_or("");
            let mut now = now;
            let decision = match v.raw("decision").strip_prefix("wait ") {
                // One keepalive interval passes with the prompt up: each
                // side's keepalive comes due, the inviter's first; each
                // reads the other's.
                Some(decision) => {
                    now += Config::default().keepalive_interval;
                    inviter.handle_timeout(now);
                    let keepalive = drain(&mut inviter);
                    record_as(&keepalive, "keepalive_inviter", report);
                    invitee.handle_input(now, &keepalive, &directory);
                    let keepalive = drain(&mut invitee);
                    record_as(&keepalive, "keepalive_invitee", report);
                    inviter.handle_input(now, &keepalive, &());
                    assert!(invitee.is_prompting());
                    decision
                }
                None => v.raw("decision"),
            };
            match decision {
                "accept" => invitee
                    .handle_decision(now, Decision::accept(message).expect("a valid message"))
                    .expect("prompt up"),
                "decline" => invitee
                    .handle_decision(now, Decision::decline(message).expect("a valid message"))
                    .expect("prompt up"),
                "fail" => {
                    let code = u32::from_str_radix(v.raw("answer_code"), 16).expect("hex code");
                    invitee
                        .handle_decision(
                            now,
                            Decision::error(code, message).expect("a valid message"),
                        )
                        .expect("prompt up");
                }
                "cancel" => {
                    inviter.handle_cancel(now);
                    let cancel = drain(&mut inviter);
                    record(&cancel, true, true, report);
                    invitee.handle_input(now, &cancel, &directory);
                }
                other => panic!("unknown decision {other}"),
            }
            answer = drain(&mut invitee);
        }
        record(&answer, false, false, report);
        inviter.handle_input(now, &answer, &());
        if v.has("answer_message") {
            assert_eq!(inviter.answer_message(), Ok(v.text("answer_message")));
        }
    }
    assert!(inviter.is_finished(), "[{}] the inviter is done", v.name);
    assert!(invitee.is_finished(), "[{}] the invitee is done", v.name);
    report.check(v, "sequence", sequence.borrow().join(" "));
    report.check(v, "result_inviter", inviter_result(inviter.outcome()));
    report.check(v, "result_invitee", invitee_result(invitee.outcome()));
}

fn check_identity(v: &Vector, role: &str, report: &mut Report) {
    let id = Identity::from_seed(&v.hex32(&format!("seed_{role}")));
    let key = id.public_key();
    report.check_hex(v, &format!("key_{role}"), key.as_bytes());
    report.check_text(v, &format!("openssh_{role}"), &key.to_string());
    report.check(
        v,
        &format!("fingerprint_{role}"),
        key.fingerprint().to_string(),
    );

    // The document's text forms parse back to the same key.
    if let Some(line) = v.get(&format!("openssh_{role}")) {
        let line = line.trim_matches('"');
        assert_eq!(line.parse::<PublicKey>(), Ok(key), "[{}] {line}", v.name);
    }
    if let Some(fp) = v.get(&format!("fingerprint_{role}")) {
        assert_eq!(fp.parse::<Fingerprint>(), Ok(key.fingerprint()));
    }
}

const EXCHANGES: [&str; 6] = [
    "accepted",
    "refused",
    "off",
    "cancelled",
    "keepalive",
    "stopped",
];

/// Every key an exchange block may have: what the tests above and below
/// read or check. A key outside this list would be checked by nobody.
const EXCHANGE_KEYS: &str = "name \
    seed_inviter seed_invitee eph_inviter eph_invitee target policy inviter_contact registered \
    application message data decision answer_code answer_message \
    key_inviter openssh_inviter fingerprint_inviter key_invitee openssh_invitee fingerprint_invitee \
    sequence hello proof refusal invite keepalive_inviter keepalive_invitee cancel answer \
    result_inviter result_invitee \
    e_inviter e_invitee h_proof h_final k_inviter_to_invitee k_invitee_to_inviter \
    proof_plaintext invite_plaintext keepalive_inviter_plaintext keepalive_invitee_plaintext \
    cancel_plaintext answer_plaintext";

#[test]
fn every_key_of_the_exchanges_is_checked_by_someone() {
    let all = all_vectors();
    for name in EXCHANGES {
        for (key, _) in &vector(&all, name).fields {
            assert!(
                EXCHANGE_KEYS.split_whitespace().any(|k| k == key),
                "[{name}] unknown key `{key}`"
            );
        }
    }
}

#[test]
fn every_frame_of_every_exchange_is_what_the_code_sends() {
    let all = all_vectors();
    let mut report = Report::default();
    for name in EXCHANGES {
        let v = vector(&all, name);
        check_identity(v, "inviter", &mut report);
        check_identity(v, "invitee", &mut report);
        run_exchange(v, &mut report);
    }
    report.finish();
}

// ---------------------------------------------------------------------------
// The specification's own rules, implemented independently

const NOISE_NAME: &[u8] = b"Noise_NN_25519_ChaChaPoly_SHA512";
const PROLOGUE: &[u8] = b"beckon\x01";
const INVITEE_LABEL: &[u8] = b"beckon/1 invitee proof\0\0";
const INVITER_LABEL: &[u8] = b"beckon/1 inviter proof\0\0";

fn sha512(parts: &[&[u8]]) -> [u8; 64] {
    let mut hasher = Sha512::new();
    for part in parts {
        hasher.update(part);
    }
    let mut out = [0u8; 64];
    out.copy_from_slice(&hasher.finalize());
    out
}

/// Noise's HKDF with two outputs, truncated to cipher keys where used.
fn hkdf2(ck: &[u8; 64], ikm: &[u8]) -> ([u8; 64], [u8; 64]) {
    let mut okm = [0u8; 128];
    Hkdf::<Sha512>::new(Some(ck), ikm)
        .expand(&[], &mut okm)
        .expect("128 bytes");
    let mut a = [0u8; 64];
    let mut b = [0u8; 64];
    a.copy_from_slice(&okm[..64]);
    b.copy_from_slice(&okm[64..]);
    (a, b)
}

fn key32(k: &[u8; 64]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&k[..32]);
    out
}

/// ChaCha20-Poly1305 with Noise's nonce: 4 zero bytes, then the counter
/// as 64-bit little-endian.
fn open(key: &[u8; 32], n: u64, ad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let (text, tag) = sealed.split_at(sealed.len().checked_sub(16)?);
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&n.to_le_bytes());
    let mut buf = text.to_vec();
    let tag: [u8; 16] = tag.try_into().ok()?;
    ChaCha20Poly1305::new(&Key::from(*key))
        .decrypt_inout_detached(
            &Nonce::from(nonce),
            ad,
            buf.as_mut_slice().into(),
            &Tag::from(tag),
        )
        .ok()?;
    Some(buf)
}

fn verify(key: &[u8], label: &[u8], h: &[u8; 64], signature: &[u8]) -> bool {
    let Ok(key) = <[u8; 32]>::try_from(key) else {
        return false;
    };
    let Ok(signature) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&key) else {
        return false;
    };
    let message = [label, &h[..]].concat();
    key.verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&signature))
        .is_ok()
}

/// Reads a postcard varint (LEB128, least significant group first).
fn take_varint(bytes: &mut &[u8]) -> usize {
    let mut value = 0usize;
    for shift in (0..35).step_by(7) {
        let (&b, rest) = bytes.split_first().expect("a varint byte");
        *bytes = rest;
        value |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return value;
        }
    }
    panic!("a varint of more than 5 bytes")
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    head
}

/// Checks a frame's header: the length counts the kind and the body.
fn body_of(frame: &[u8], kind: u8) -> &[u8] {
    assert_eq!(
        usize::from(u16::from_be_bytes([frame[0], frame[1]])),
        frame.len() - 2
    );
    assert_eq!(frame[2], kind);
    &frame[3..]
}

fn spec_check(v: &Vector, report: &mut Report) {
    let secret_a = x25519_dalek::StaticSecret::from(v.hex32("eph_inviter"));
    let e_a = x25519_dalek::PublicKey::from(&secret_a);
    report.check_hex(v, "e_inviter", e_a.as_bytes());

    // §5.1: the Hello is the version and the inviter's ephemeral key.
    let hello = v.hex("hello");
    assert_eq!(body_of(&hello, 0x01), [&[1u8][..], e_a.as_bytes()].concat());

    if v.has("refusal") {
        let refusal = v.hex("refusal");
        assert_eq!(body_of(&refusal, 0x03).len(), 2);
        assert_eq!(refusal[3], 1, "the invitee's version");
        assert!(!v.has("proof"));
        return;
    }

    // §6: Noise NN. h and ck start as the name padded with zeros.
    let mut h = [0u8; 64];
    h[..NOISE_NAME.len()].copy_from_slice(NOISE_NAME);
    let ck = h;
    h = sha512(&[&h, PROLOGUE]);
    h = sha512(&[&h, e_a.as_bytes()]);
    h = sha512(&[&h, b""]);

    let proof = v.hex("proof");
    let body = body_of(&proof, 0x02);
    assert_eq!(body.len(), 32 + 96 + 16);
    let (e_b, sealed_proof) = body.split_at(32);
    let secret_b = x25519_dalek::StaticSecret::from(v.hex32("eph_invitee"));
    assert_eq!(x25519_dalek::PublicKey::from(&secret_b).as_bytes(), e_b);
    report.check_hex(v, "e_invitee", e_b);
    h = sha512(&[&h, e_b]);
    let e_b: [u8; 32] = e_b.try_into().expect("32 bytes");
    let shared = secret_a.diffie_hellman(&x25519_dalek::PublicKey::from(e_b));
    assert_eq!(
        shared.as_bytes(),
        secret_b.diffie_hellman(&e_a).as_bytes(),
        "both sides agree on ee"
    );
    let (ck, temp) = hkdf2(&ck, shared.as_bytes());
    let h_proof = h;
    report.check_hex(v, "h_proof", &h_proof);

    // §7: the Proof's payload is the invitee's key and its signature.
    let Some(proof_plaintext) = open(&key32(&temp), 0, &h_proof, sealed_proof) else {
        return report.fail(format!("[{}] the Proof does not open", v.name));
    };
    report.check_hex(v, "proof_plaintext", &proof_plaintext);
    let (key_b, signature_b) = proof_plaintext.split_at(32);
    assert_eq!(hex::encode(key_b), v.raw("key_invitee"));
    assert!(
        verify(key_b, INVITEE_LABEL, &h_proof, signature_b),
        "[{}] the invitee's signature covers its label and h_proof",
        v.name
    );
    let h_final = sha512(&[&h_proof, sealed_proof]);
    report.check_hex(v, "h_final", &h_final);

    // Split: the first key protects inviter to invitee.
    let (k1, k2) = hkdf2(&ck, b"");
    let (k1, k2) = (key32(&k1), key32(&k2));
    report.check_hex(v, "k_inviter_to_invitee", &k1);
    report.check_hex(v, "k_invitee_to_inviter", &k2);

    // §5.3: the Invite, sealed with k1, nonce 0, empty associated data.
    let invite = v.hex("invite");
    let Some(invite_plaintext) = open(&k1, 0, b"", body_of(&invite, 0x04)) else {
        return report.fail(format!("[{}] the Invite does not open", v.name));
    };
    report.check_hex(v, "invite_plaintext", &invite_plaintext);
    let mut rest = &invite_plaintext[..];
    assert_eq!(take(&mut rest, 1), [0u8], "the Invite's tag");
    let application: ApplicationId = v.text("application").parse().expect("a UUID");
    assert_eq!(take(&mut rest, 16), application.as_bytes());
    let n = take_varint(&mut rest);
    assert_eq!(take(&mut rest, n), v.text("message").as_bytes());
    let n = take_varint(&mut rest);
    assert_eq!(take(&mut rest, n), v.hex("data"));
    let key_a = take(&mut rest, 32);
    assert_eq!(hex::encode(key_a), v.raw("key_inviter"));
    let signature_a = take(&mut rest, 64);
    assert!(rest.is_empty(), "nothing after the signature");
    assert!(
        verify(key_a, INVITER_LABEL, &h_final, signature_a),
        "[{}] the inviter's signature covers its label and h_final",
        v.name
    );

    // Each side's nonces count its transport messages: the inviter's
    // keepalive (if any) is its second, the invitee's its first.
    let mut inviter_nonce = 1;
    let mut invitee_nonce = 0;
    if v.has("keepalive_inviter") {
        let keepalive = v.hex("keepalive_inviter");
        let plaintext = open(&k1, inviter_nonce, b"", body_of(&keepalive, 0x04));
        report.check_hex(
            v,
            "keepalive_inviter_plaintext",
            &plaintext.unwrap_or_default(),
        );
        inviter_nonce += 1;
    }
    if v.has("keepalive_invitee") {
        let keepalive = v.hex("keepalive_invitee");
        let plaintext = open(&k2, invitee_nonce, b"", body_of(&keepalive, 0x04));
        report.check_hex(
            v,
            "keepalive_invitee_plaintext",
            &plaintext.unwrap_or_default(),
        );
        invitee_nonce += 1;
    }

    // The Cancel, if any, is the inviter's next transport message.
    if v.has("cancel") {
        let cancel = v.hex("cancel");
        let plaintext = open(&k1, inviter_nonce, b"", body_of(&cancel, 0x04));
        report.check_hex(v, "cancel_plaintext", &plaintext.unwrap_or_default());
    }

    // The Answer is the invitee's next transport message.
    let answer = v.hex("answer");
    let Some(answer_plaintext) = open(&k2, invitee_nonce, b"", body_of(&answer, 0x04)) else {
        return report.fail(format!("[{}] the Answer does not open", v.name));
    };
    report.check_hex(v, "answer_plaintext", &answer_plaintext);
}

#[test]
fn the_vectors_follow_the_handshake_and_proofs_of_the_spec() {
    // The constants of the prose are the code's.
    assert_eq!(beckon_core::internal::handshake::PROTOCOL_NAME, NOISE_NAME);
    assert_eq!(
        [
            beckon_core::internal::handshake::PROLOGUE_PREFIX,
            &[limits::PROTOCOL_VERSION]
        ]
        .concat(),
        PROLOGUE
    );
    assert_eq!(
        &beckon_core::internal::handshake::INVITEE_LABEL[..],
        INVITEE_LABEL
    );
    assert_eq!(
        &beckon_core::internal::handshake::INVITER_LABEL[..],
        INVITER_LABEL
    );

    let all = all_vectors();
    let mut report = Report::default();
    for name in EXCHANGES {
        spec_check(vector(&all, name), &mut report);
    }
    report.finish();
}

#[test]
fn the_text_forms_of_the_keys_follow_openssh() {
    let all = all_vectors();
    let mut report = Report::default();
    for name in EXCHANGES {
        let v = vector(&all, name);
        for role in ["inviter", "invitee"] {
            let key = v.hex(&format!("key_{role}"));
            // §3: string "ssh-ed25519", string key, each behind a u32 BE
            // length; the line is standard base64, the fingerprint unpadded
            // base64 of its SHA-256.
            let blob = [
                &11u32.to_be_bytes()[..],
                b"ssh-ed25519",
                &32u32.to_be_bytes(),
                &key,
            ]
            .concat();
            let mut line = [0u8; 68];
            let line = Base64::encode(&blob, &mut line).expect("68 characters");
            report.check_text(
                v,
                &format!("openssh_{role}"),
                &format!("ssh-ed25519 {line}"),
            );
            let mut fp = [0u8; 43];
            let fp = Base64Unpadded::encode(&Sha256::digest(&blob), &mut fp).expect("43");
            report.check(v, &format!("fingerprint_{role}"), format!("SHA256:{fp}"));
        }
    }
    report.finish();
}

// ---------------------------------------------------------------------------
// Sizes, encodings and breakdowns

#[test]
fn the_frame_sizes_of_the_spec_are_the_codes() {
    let all = all_vectors();
    let v = vector(&all, "sizes");
    let mut report = Report::default();
    let mut check = |key: &str, n: usize| report.check(v, key, n.to_string());
    check("hello_frame", frame::HELLO_FRAME_LEN);
    check("proof_frame", frame::PROOF_FRAME_LEN);
    check("refusal_frame", frame::REFUSAL_FRAME_LEN);
    check("cancel_frame", frame::CANCEL_FRAME_LEN);
    check("keepalive_frame", frame::KEEPALIVE_FRAME_LEN);
    check("answer_frame_max", frame::ANSWER_FRAME_MAX);
    check("invite_frame_max_0", frame::invite_frame_len(0));
    check("invite_frame_max_512", frame::invite_frame_len(512));
    check("invite_frame_max_16384", frame::invite_frame_len(16384));
    check("buffer_size_0", wire::buffer_size(0));
    check("buffer_size_512", wire::buffer_size(512));
    check("buffer_size_16384", wire::buffer_size(16384));
    check("default_buffer", DEFAULT_BUFFER);
    check("max_data_for_4096", wire::max_data_for(4096));
    check("max_data_for_1222", wire::max_data_for(1222));
    report.finish();
}

#[test]
fn the_encodings_of_the_spec_are_the_codes() {
    let all = all_vectors();
    let v = vector(&all, "encodings");
    let mut report = Report::default();
    let mut encode = |key: &str, bytes: Vec<u8>| report.check_hex(v, key, &bytes);
    encode("cancel_plaintext", enc(&InviterMessage::Cancel));
    encode(
        "inviter_keepalive_plaintext",
        enc(&InviterMessage::Keepalive),
    );
    encode("answer_keepalive", enc(&AnswerMessage::Keepalive));
    encode(
        "answer_declined",
        enc(&AnswerMessage::Declined { message: "" }),
    );
    encode(
        "answer_accepted_sure",
        enc(&AnswerMessage::Accepted { message: "Sure" }),
    );
    encode("answer_expired", enc(&AnswerMessage::Expired));
    let error = AnswerMessage::Error {
        code: 0x8000_4005,
        message: "",
    };
    encode("answer_error_80004005", enc(&error));
    encode("answer_cancelled", enc(&AnswerMessage::Cancelled));
    encode(
        "answer_too_large_17541",
        enc(&AnswerMessage::TooLarge { invite_len: 17541 }),
    );
    // The refusals, one vector per reason for each of the two forms
    // (§5.4); the reasons' tags are shared: 0 not_trusted, 1 blocked,
    // 2 application_not_registered, 3 invitations_off, 4 busy, 5 too_large,
    // 6 unsupported_version. The encoder builds the legal ones; the others
    // are the same layout with that reason's tag, and must be rejected.
    let tag_of = |name: &str| {
        let names = [
            "not_trusted",
            "blocked",
            "application_not_registered",
            "invitations_off",
            "busy",
            "too_large",
            "unsupported_version",
        ];
        u8::try_from(names.iter().position(|n| *n == name).expect("a reason")).unwrap()
    };
    // Sealed, in the Answer `Refused`: the first five reasons.
    for reason in [
        SealedRefusal::NotTrusted,
        SealedRefusal::Blocked,
        SealedRefusal::ApplicationNotRegistered,
        SealedRefusal::InvitationsOff,
        SealedRefusal::Busy,
    ] {
        let name = refusal_name(reason.refusal());
        let bytes = enc(&AnswerMessage::Refused(reason));
        assert_eq!(bytes, [4, tag_of(&name)], "{name}");
        encode(&format!("answer_refused_{name}"), bytes);
    }
    // Too large (its own answer, `answer_too_large_*`) and an unsupported
    // version (only in clear) are never a sealed `Refused`: such an answer
    // does not decode.
    for name in ["too_large", "unsupported_version"] {
        let mut bytes = enc(&AnswerMessage::Refused(SealedRefusal::NotTrusted));
        bytes[1] = tag_of(name);
        encode(&format!("answer_refused_{name}"), bytes.clone());
        assert_eq!(
            payload::decode::<AnswerMessage<'_>>(&bytes),
            Err(ProtocolError::Malformed),
            "answer_refused_{name}"
        );
    }
    // In clear, before the handshake: invitations off, busy, and an
    // unsupported version.
    for reason in [
        ClearRefusal::InvitationsOff,
        ClearRefusal::Busy,
        ClearRefusal::UnsupportedVersion,
    ] {
        let name = match reason {
            ClearRefusal::InvitationsOff => "invitations_off",
            ClearRefusal::Busy => "busy",
            ClearRefusal::UnsupportedVersion => "unsupported_version",
        };
        let bytes = refusal_frame(reason);
        assert_eq!(bytes[frame::REFUSAL_FRAME_LEN - 1], tag_of(name), "{name}");
        encode(&format!("refusal_{name}"), bytes.to_vec());
    }
    // The other reasons are only ever sent sealed: a clear Refusal frame
    // naming one is malformed, and ends an inviter waiting for the Proof.
    for name in [
        "not_trusted",
        "blocked",
        "application_not_registered",
        "too_large",
    ] {
        let mut bytes = refusal_frame(ClearRefusal::Busy);
        bytes[frame::REFUSAL_FRAME_LEN - 1] = tag_of(name);
        encode(&format!("refusal_{name}"), bytes.to_vec());
        assert_eq!(
            clear_refusal_to_inviter(&bytes),
            Some(Err(SessionError::Protocol(ProtocolError::Malformed))),
            "refusal_{name}"
        );
    }
    // Every other encoding decodes back, and a trailing byte is refused.
    for (key, value) in &v.fields {
        let never_sealed = [
            "answer_refused_too_large",
            "answer_refused_unsupported_version",
        ];
        if key.starts_with("answer_") && !never_sealed.contains(&key.as_str()) {
            let bytes = hex::decode(value).expect("hex");
            assert!(
                payload::decode::<AnswerMessage<'_>>(&bytes).is_ok(),
                "{key}"
            );
            let longer = [&bytes[..], &[0]].concat();
            assert!(
                payload::decode::<AnswerMessage<'_>>(&longer).is_err(),
                "{key}"
            );
        }
    }
    report.finish();
}

/// How an inviter that sent its Hello and waits for the Proof ends when
/// `frame` comes instead.
fn clear_refusal_to_inviter(frame: &[u8]) -> Option<Result<Response, SessionError>> {
    let now = Instant::from_secs(0);
    let invitee = Identity::from_seed(&[2; 32]).public_key();
    let invitation = Invitation::new(ApplicationId::from_bytes([1; 16]), "", b"").unwrap();
    let mut inviter: Inviter = Inviter::new(
        Config::default(),
        &Identity::from_seed(&[1; 32]),
        Target::Contact(invitee),
        &invitation,
        EphemeralSecret::from_bytes([3; 32]),
        now,
    )
    .unwrap();
    let hello = drain(&mut inviter);
    assert_eq!(frame_name(&hello, true, false), "hello");
    inviter.handle_input(now, frame, &());
    let events = drain_events(&mut inviter);
    let outcome = inviter.outcome();
    assert_eq!(
        events,
        outcome
            .map(InviterEvent::Finished)
            .into_iter()
            .collect::<Vec<_>>()
    );
    assert!(drain(&mut inviter).is_empty(), "nothing is sent");
    outcome
}

/// A payload's postcard encoding.
fn enc<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let n = payload::encode(value, &mut buf).expect("fits");
    buf[..n].to_vec()
}

#[test]
fn the_annotated_breakdowns_add_up_to_the_vectors() {
    let doc = document();
    let all = vectors(&doc);
    let blocks = breakdowns(&doc);
    assert!(blocks.len() >= 2, "at least the Hello and a clear Refusal");
    for (name, key, hex) in blocks {
        let v = vector(&all, &name);
        assert_eq!(
            hex.to_ascii_lowercase(),
            v.raw(&key).to_ascii_lowercase(),
            "breakdown {name} {key}"
        );
    }
}
