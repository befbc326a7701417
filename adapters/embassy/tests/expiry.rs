//! Expiry: nobody answers for five minutes. Its own test binary, as a test
//! that jumps five minutes should be; here the clock is virtual and per
//! thread anyway (see `common`), so the jump costs no real time.

mod common;

use beckon_core::{InviteeOutcome, Response};
use beckon_testkit::bobs_directory;
use common::*;
use embassy_time::Duration;

/// The answer window of the protocol, `DEFAULT_RESPONSE_TIMEOUT` (Tr) in
/// docs/protocol.md §2: fixed here rather than read back from the config
/// the bench gave the sessions, so that the test checks the five minutes
/// and not only that the sessions keep to whatever they were given.
const FIVE_MINUTES: Duration = Duration::from_secs(300);

#[test]
fn an_invitation_nobody_answers_expires_after_five_minutes() {
    let bob = Bob::away();
    let directory = bobs_directory();
    let (got, elapsed) = exchange(Setup::new(&bob, &directory));

    // Bob's device sends Expired at its deadline, before Alice's own
    // timeout (five minutes plus her grace period) would fire.
    let (response, _, _) = got.expect("an answer");
    assert_eq!(response, Response::Expired);
    assert!(
        elapsed >= FIVE_MINUTES && elapsed < FIVE_MINUTES + Duration::from_secs(1),
        "took {elapsed:?}"
    );
    assert_eq!(bob.shown.borrow().len(), 1);
    assert_eq!(bob.withdrawn.get(), 1, "the prompt was withdrawn");
    assert!(bob.launched.borrow().is_empty());
    assert_eq!(bob.outcomes(), [InviteeOutcome::Expired]);
}
