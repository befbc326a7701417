//! The Wycheproof Ed25519 vectors, through Beckon's own verification path:
//! [`PublicKey::from_bytes`] (which refuses invalid and weak keys) then
//! [`PublicKey::verify`] (`verify_strict`), the one path every identity
//! proof is checked through.
//!
//! Every "invalid" vector is rejected and every "valid" vector is accepted,
//! without exception: none of the valid vectors uses a small-order key or a
//! small-order `R`, so neither the weak-key refusal nor `verify_strict`
//! costs a valid one.

use beckon_core::PublicKey;
use wycheproof::eddsa::{TestName, TestSet};
use wycheproof::TestResult;

/// Beckon's verdict on one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Accepted,
    /// The key is not 32 bytes, or `PublicKey::from_bytes` refuses it.
    KeyRefused,
    /// The signature is not 64 bytes: on the wire it is a fixed 64-byte
    /// field, so such a signature never reaches the verifier.
    WrongLength,
    /// `PublicKey::verify` returned false.
    SignatureRefused,
}

fn beckon_verdict(key: &[u8], message: &[u8], signature: &[u8]) -> Verdict {
    let Ok(key) = <&[u8; 32]>::try_from(key) else {
        return Verdict::KeyRefused;
    };
    let Ok(key) = PublicKey::from_bytes(key) else {
        return Verdict::KeyRefused;
    };
    let Ok(signature) = <&[u8; 64]>::try_from(signature) else {
        return Verdict::WrongLength;
    };
    if key.verify(message, signature) {
        Verdict::Accepted
    } else {
        Verdict::SignatureRefused
    }
}

#[test]
fn every_wycheproof_ed25519_vector_gets_the_expected_verdict() {
    let set = TestSet::load(TestName::Ed25519).unwrap();
    let (mut valid, mut valid_accepted, mut invalid) = (0usize, 0usize, 0usize);
    let (mut key_refused, mut wrong_length, mut signature_refused) = (0usize, 0usize, 0usize);
    let mut wrong = Vec::new();
    for group in &set.test_groups {
        for test in &group.tests {
            let verdict = beckon_verdict(&group.key.pk, &test.msg, &test.sig);
            let label = || {
                format!(
                    "tcId {} ({:?} {:?}, {}): {verdict:?}; key {}",
                    test.tc_id,
                    test.result,
                    test.flags,
                    test.comment,
                    hex::encode(&*group.key.pk)
                )
            };
            match test.result {
                TestResult::Valid => {
                    valid += 1;
                    if verdict == Verdict::Accepted {
                        valid_accepted += 1;
                    } else {
                        wrong.push(label());
                    }
                }
                // Acceptable vectors may go either way; Ed25519 has none.
                TestResult::Acceptable => {}
                TestResult::Invalid => {
                    invalid += 1;
                    match verdict {
                        Verdict::Accepted => wrong.push(label()),
                        Verdict::KeyRefused => key_refused += 1,
                        Verdict::WrongLength => wrong_length += 1,
                        Verdict::SignatureRefused => signature_refused += 1,
                    }
                }
            }
        }
    }
    eprintln!(
        "Wycheproof Ed25519, {} vectors: {valid_accepted} of {valid} valid accepted; \
         {} of {invalid} invalid rejected ({key_refused} by the key, {wrong_length} by \
         length, {signature_refused} by verify_strict)",
        set.number_of_tests,
        key_refused + wrong_length + signature_refused,
    );
    assert!(wrong.is_empty(), "wrong verdicts: {wrong:#?}");
    // Not vacuous: both kinds are there, and every vector was counted.
    assert!(valid > 0 && invalid > 0);
    assert_eq!(valid_accepted, valid);
    assert_eq!(key_refused + wrong_length + signature_refused, invalid);
    let acceptable: usize = set
        .test_groups
        .iter()
        .flat_map(|g| &g.tests)
        .filter(|t| t.result == TestResult::Acceptable)
        .count();
    assert_eq!(valid + invalid + acceptable, set.number_of_tests);
}
