//! The tokio adapter end to end: real loopback TCP for the answers (and a
//! flood reopened as fast as it is evicted), and in-memory streams under
//! paused tokio time for everything that waits (expiry, timeouts, cancel,
//! stalled handshakes) or must happen in an exact order (which handshake
//! is evicted), so those take milliseconds.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use beckon_core::wire::{refusal_frame, ClearRefusal};
use beckon_core::{
    Config, Identity, Invitation, InviteeOutcome, Policy, PublicKey, Refusal, Response,
    SessionError, Target,
};
use beckon_testkit::{alice, bob, carol, hello, Dir, CHESS};
use beckon_tokio::{
    invite, invite_tcp, Answer, AnswerError, CancelToken, IncomingInvitation, InviteError,
    InviteOptions, LaunchInfo, Listener, ListenerConfig, Progress, SessionReport, Withdrawn,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How an invitation ended, in the classes `beckon invite` gives exit codes
/// to (the codes themselves are the desktop crate's).
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Accepted,
    Declined,
    Expired,
    Refused,
    ContactMismatch,
    ConnectionFailed,
    Cancelled,
    Other,
}

fn ended(result: &Result<Answer, InviteError>) -> Ended {
    match result {
        Ok(a) => match a.response {
            Response::Accepted => Ended::Accepted,
            Response::Declined | Response::Error { .. } => Ended::Declined,
            Response::Expired => Ended::Expired,
        },
        Err(InviteError::Connect(_) | InviteError::Io(_)) => Ended::ConnectionFailed,
        Err(InviteError::Invalid(_)) => Ended::Other,
        Err(InviteError::Failed { error, .. }) => match error {
            SessionError::Timeout => Ended::Expired,
            SessionError::Refused { .. } => Ended::Refused,
            SessionError::ContactMismatch => Ended::ContactMismatch,
            SessionError::Cancelled => Ended::Cancelled,
            SessionError::HandshakeTimeout
            | SessionError::ConnectionClosed
            | SessionError::PeerSilent
            | SessionError::Protocol(_)
            | SessionError::UnsupportedVersion { .. } => Ended::ConnectionFailed,
            SessionError::Internal => Ended::Other,
        },
    }
}

const FIVE_MINUTES: Duration = Duration::from_secs(300);
const GRACE: Duration = Duration::from_secs(10);

/// A directory with `policy`, chess registered, and these contacts.
fn directory(policy: Policy, contacts: &[(&Identity, &str)]) -> Arc<Dir> {
    Arc::new(beckon_testkit::directory(policy, contacts))
}

/// Bob, trusting Alice only.
fn bobs_directory() -> Arc<Dir> {
    Arc::new(beckon_testkit::bobs_directory())
}

fn listen_tcp(identity: Identity, dir: Arc<Dir>, cfg: ListenerConfig) -> Listener {
    Listener::bind("127.0.0.1:0", identity, dir, cfg).unwrap()
}

/// Bob's listener fed in-memory connections, with `places` handshake
/// places and the other defaults, and a subscription to its reports.
fn with_handshake_places(places: usize) -> (Network, Listener, broadcast::Receiver<SessionReport>) {
    let cfg = ListenerConfig {
        max_handshakes: places,
        ..ListenerConfig::default()
    };
    let (net, listener) = listen_in_memory(bob(), bobs_directory(), cfg);
    let reports = listener.subscribe();
    (net, listener, reports)
}

/// A listener fed in-memory connections.
fn listen_in_memory(identity: Identity, dir: Arc<Dir>, cfg: ListenerConfig) -> (Network, Listener) {
    let (tx, rx) = mpsc::channel(16);
    let addr: SocketAddr = "[::1]:7464".parse().unwrap();
    let listener = Listener::from_channel(addr, rx, identity, dir, cfg).unwrap();
    (
        Network {
            tx,
            next_port: 40000,
        },
        listener,
    )
}

struct Network {
    tx: mpsc::Sender<(DuplexStream, SocketAddr)>,
    next_port: u16,
}

impl Network {
    /// A new connection to the listener; returns the inviter's end.
    async fn connect(&mut self) -> DuplexStream {
        self.open(64 * 1024).await.0
    }

    /// A new connection whose streams buffer `buffer` bytes each way;
    /// returns the inviter's end and the address the listener sees.
    async fn open(&mut self, buffer: usize) -> (DuplexStream, SocketAddr) {
        let (inviter_end, listener_end) = tokio::io::duplex(buffer);
        self.next_port += 1;
        let peer = SocketAddr::from(([127, 0, 0, 1], self.next_port));
        self.tx.send((listener_end, peer)).await.unwrap();
        (inviter_end, peer)
    }
}

/// A connection that sends a valid Hello and then nothing: the listener
/// answers with its Proof and waits for an Invite that never comes.
async fn hello_then_idle(net: &mut Network, seed: u8) -> (DuplexStream, SocketAddr) {
    let hello = hello([seed; 32]);
    let (mut stream, peer) = net.open(64 * 1024).await;
    stream.write_all(&hello).await.unwrap();
    (stream, peer)
}

/// Lets every task run until all wait: under paused time the clock only
/// moves (here by a millisecond) when nothing else can run.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// Appends what a connection has received so far to `got`; returns
/// whether the listener has closed it. Never waits.
async fn receive(stream: &mut DuplexStream, got: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(Duration::ZERO, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return false,
        }
    }
}

/// The reports available now (never waits).
fn reports_now(reports: &mut broadcast::Receiver<SessionReport>) -> Vec<SessionReport> {
    std::iter::from_fn(|| reports.try_recv().ok()).collect()
}

fn busy() -> Vec<u8> {
    refusal_frame(ClearRefusal::Busy).to_vec()
}

/// Everything `stream` gives until it ends.
async fn read_all(stream: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut got = Vec::new();
    stream.read_to_end(&mut got).await.unwrap();
    got
}

type Progresses = Arc<Mutex<Vec<Progress>>>;

fn recorder() -> (Progresses, impl FnMut(Progress) + Send + 'static) {
    let seen = Progresses::default();
    let sink = Arc::clone(&seen);
    (seen, move |p| sink.lock().unwrap().push(p))
}

/// `inviter` invites Bob, as his contact, at `addr` over TCP with the
/// default options, in a task.
fn spawn_invite_bob(
    addr: SocketAddr,
    inviter: Identity,
) -> JoinHandle<Result<Answer, InviteError>> {
    let target = Target::Contact(bob().public_key());
    spawn_invite_tcp(addr, inviter, target, InviteOptions::default(), |_| {})
}

/// Alice (or another identity) invites over TCP, in a task.
fn spawn_invite_tcp(
    addr: SocketAddr,
    inviter: Identity,
    target: Target,
    options: InviteOptions,
    progress: impl FnMut(Progress) + Send + 'static,
) -> JoinHandle<Result<Answer, InviteError>> {
    tokio::spawn(async move {
        let invitation = Invitation::new(CHESS, "A game?", b"board=standard").unwrap();
        invite_tcp(addr, &inviter, target, &invitation, options, progress).await
    })
}

/// Alice invites Bob over an in-memory stream, in a task.
fn spawn_invite(
    stream: DuplexStream,
    options: InviteOptions,
) -> JoinHandle<Result<Answer, InviteError>> {
    tokio::spawn(async move {
        let invitation = Invitation::new(CHESS, "A game?", b"board=standard").unwrap();
        let target = Target::Contact(bob().public_key());
        invite(stream, &alice(), target, &invitation, options, |_| {}).await
    })
}

fn failed(result: &Result<Answer, InviteError>) -> (SessionError, Option<PublicKey>) {
    match result {
        Err(InviteError::Failed { error, responder }) => (*error, *responder),
        other => panic!("expected a core error, got {other:?}"),
    }
}

/// What [`failed`] gives for a refusal with `reason`, `authenticated` or
/// not, from `responder`.
fn refusal(
    reason: Refusal,
    authenticated: bool,
    responder: Option<PublicKey>,
) -> (SessionError, Option<PublicKey>) {
    (
        SessionError::Refused {
            reason,
            authenticated,
        },
        responder,
    )
}

/// The next report that satisfies `want`.
async fn report_where(
    reports: &mut broadcast::Receiver<SessionReport>,
    want: impl Fn(&SessionReport) -> bool,
) -> SessionReport {
    loop {
        let report = reports.recv().await.unwrap();
        if want(&report) {
            return report;
        }
    }
}

/// Asserts that `answer` is the Error answer with `code` and `message`.
fn assert_error_answer(answer: &Answer, code: u32, message: &str) {
    assert_eq!(answer.response, Response::Error { code });
    assert_eq!(answer.message, message);
}

/// Whether the listener has a prompt ready right now (polls once, no
/// waiting).
async fn has_prompt(listener: &mut Listener) -> bool {
    tokio::time::timeout(Duration::ZERO, listener.next())
        .await
        .is_ok()
}

#[tokio::test]
async fn an_accepted_invitation_returns_the_authenticated_answer_and_what_to_launch() {
    let mut listener = listen_tcp(bob(), bobs_directory(), ListenerConfig::default());
    let (progress, record) = recorder();
    let target = Target::Contact(bob().public_key());
    let inviting = spawn_invite_tcp(
        listener.local_addr(),
        alice(),
        target,
        InviteOptions::default(),
        record,
    );

    let incoming = listener.next().await.unwrap();
    assert_eq!(incoming.inviter, alice().public_key());
    assert!(incoming.is_contact);
    assert_eq!(incoming.application, CHESS);
    assert_eq!(incoming.message, "A game?");
    assert_eq!(incoming.data, b"board=standard");
    assert!(incoming.time_left() > FIVE_MINUTES - Duration::from_secs(10));
    assert!(incoming.time_left() <= FIVE_MINUTES);
    assert!(incoming.peer.ip().is_loopback());
    let peer = incoming.peer;

    let info = incoming.accept("Sure").await.unwrap();
    assert_eq!(
        info,
        LaunchInfo {
            inviter: alice().public_key(),
            fingerprint: alice().public_key().fingerprint().to_string(),
            application: CHESS,
            message: "A game?".into(),
            data: b"board=standard".to_vec(),
            endpoint: peer,
        }
    );

    let result = inviting.await.unwrap();
    assert_eq!(ended(&result), Ended::Accepted);
    let answer = result.unwrap();
    assert_eq!(
        answer,
        Answer {
            response: Response::Accepted,
            responder: bob().public_key(),
            message: "Sure".into(),
        }
    );
    let progress = progress.lock().unwrap().clone();
    let bob_key = bob().public_key();
    assert_eq!(progress.len(), 3, "{progress:?}");
    assert_eq!(progress[0], Progress::Connected);
    assert_eq!(progress[1], Progress::Verified { responder: bob_key });
    match progress[2] {
        Progress::Waiting {
            responder,
            deadline,
        } => {
            assert_eq!(responder, bob_key);
            assert!(deadline > Instant::now() + FIVE_MINUTES - Duration::from_secs(10));
            assert!(deadline <= Instant::now() + FIVE_MINUTES);
        }
        other => panic!("expected Waiting, got {other:?}"),
    }
}

#[tokio::test]
async fn a_declined_invitation_returns_the_decline_and_its_message() {
    let mut listener = listen_tcp(bob(), bobs_directory(), ListenerConfig::default());
    let addr = listener.local_addr();
    let inviting = spawn_invite_bob(addr, alice());
    listener.next().await.unwrap().decline("Not tonight").await;
    let result = inviting.await.unwrap();
    assert_eq!(ended(&result), Ended::Declined);
    let answer = result.unwrap();
    assert_eq!(answer.response, Response::Declined);
    assert_eq!(answer.message, "Not tonight");
    assert_eq!(answer.responder, bob().public_key());
}

#[tokio::test]
async fn an_untrusted_inviter_is_refused_with_an_authenticated_reason_and_no_prompt() {
    let mut listener = listen_tcp(bob(), bobs_directory(), ListenerConfig::default());
    let mut reports = listener.subscribe();
    let addr = listener.local_addr();
    let result = spawn_invite_bob(addr, carol()).await.unwrap();
    assert_eq!(
        failed(&result),
        refusal(Refusal::NotTrusted, true, Some(bob().public_key()))
    );
    assert_eq!(ended(&result), Ended::Refused);
    let report = report_where(&mut reports, |_| true).await;
    assert_eq!(report.inviter, Some(carol().public_key()));
    assert_eq!(report.outcome, InviteeOutcome::Refused(Refusal::NotTrusted));
    assert!(!has_prompt(&mut listener).await);
}

#[tokio::test]
async fn invitations_off_is_refused_in_clear_and_reported_as_unauthenticated() {
    let dir = directory(Policy::Off, &[(&alice(), "alice")]);
    let listener = listen_tcp(bob(), dir, ListenerConfig::default());
    let addr = listener.local_addr();
    let result = spawn_invite_bob(addr, alice()).await.unwrap();
    assert_eq!(
        failed(&result),
        refusal(Refusal::InvitationsOff, false, None)
    );
    assert_eq!(ended(&result), Ended::Refused);
}

#[tokio::test]
async fn inviting_bob_where_carol_answers_is_a_contact_mismatch_naming_carol() {
    // Carol would even accept Alice: the invitation must never reach her.
    let dir = directory(Policy::Anyone, &[(&alice(), "alice")]);
    let mut listener = listen_tcp(carol(), dir, ListenerConfig::default());
    let mut reports = listener.subscribe();
    let addr = listener.local_addr();
    let result = spawn_invite_bob(addr, alice()).await.unwrap();
    assert_eq!(
        failed(&result),
        (SessionError::ContactMismatch, Some(carol().public_key()))
    );
    assert_eq!(ended(&result), Ended::ContactMismatch);
    let report = report_where(&mut reports, |_| true).await;
    assert_eq!(report.inviter, None, "Carol never saw who invited");
    assert!(matches!(report.outcome, InviteeOutcome::Failed(_)));
    assert!(!has_prompt(&mut listener).await);
}

#[tokio::test]
async fn inviting_any_endpoint_reports_who_answered() {
    let mut listener = listen_tcp(bob(), bobs_directory(), ListenerConfig::default());
    let addr = listener.local_addr();
    let options = InviteOptions::default();
    let inviting = spawn_invite_tcp(addr, alice(), Target::AnyEndpoint, options, |_| {});
    listener.next().await.unwrap().accept("").await.unwrap();
    let answer = inviting.await.unwrap().unwrap();
    assert_eq!(answer.responder, bob().public_key());
    assert_eq!(answer.response, Response::Accepted);
}

#[tokio::test]
async fn no_listener_is_could_not_connect() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = unused.local_addr().unwrap();
    drop(unused);
    let result = spawn_invite_tcp(
        addr,
        alice(),
        Target::AnyEndpoint,
        InviteOptions::default(),
        |_| {},
    )
    .await
    .unwrap();
    assert!(matches!(result, Err(InviteError::Connect(_))), "{result:?}");
    assert_eq!(ended(&result), Ended::ConnectionFailed);
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_invitation_expires_after_five_minutes() {
    let (mut net, mut listener) =
        listen_in_memory(bob(), bobs_directory(), ListenerConfig::default());
    let start = Instant::now();
    let inviting = spawn_invite(net.connect().await, InviteOptions::default());
    let incoming = listener.next().await.unwrap();
    assert_eq!(incoming.deadline, start + FIVE_MINUTES);

    assert_eq!(incoming.withdrawn().await, Withdrawn::Expired);
    assert_eq!(Instant::now(), start + FIVE_MINUTES);
    let result = inviting.await.unwrap();
    assert_eq!(ended(&result), Ended::Expired);
    assert_eq!(result.unwrap().response, Response::Expired);
    assert_eq!(
        incoming.accept("too late").await,
        Err(AnswerError::Withdrawn(Withdrawn::Expired))
    );
}

#[tokio::test(start_paused = true)]
async fn an_inviter_without_an_answer_gives_up_a_grace_after_the_response_timeout() {
    // Bob's user has an hour; Alice waits five minutes and the grace.
    let cfg = ListenerConfig {
        config: Config {
            response_timeout: embassy_time::Duration::from_secs(3600),
            ..Config::default()
        },
        ..ListenerConfig::default()
    };
    let (mut net, mut listener) = listen_in_memory(bob(), bobs_directory(), cfg);
    let start = Instant::now();
    let inviting = spawn_invite(net.connect().await, InviteOptions::default());
    let incoming = listener.next().await.unwrap();

    let result = inviting.await.unwrap();
    assert_eq!(Instant::now(), start + FIVE_MINUTES + GRACE);
    assert_eq!(
        failed(&result),
        (SessionError::Timeout, Some(bob().public_key()))
    );
    assert_eq!(ended(&result), Ended::Expired);
    assert_eq!(
        incoming.withdrawn().await,
        Withdrawn::Failed(SessionError::ConnectionClosed)
    );
}

#[tokio::test(start_paused = true)]
async fn cancelling_withdraws_the_prompt_and_ends_with_cancelled() {
    let (mut net, mut listener) =
        listen_in_memory(bob(), bobs_directory(), ListenerConfig::default());
    let start = Instant::now();
    let token = CancelToken::new();
    let options = InviteOptions {
        cancel: Some(token.clone()),
        ..InviteOptions::default()
    };
    let inviting = spawn_invite(net.connect().await, options);
    let incoming = listener.next().await.unwrap();

    token.cancel();
    assert_eq!(incoming.withdrawn().await, Withdrawn::Cancelled);
    let result = inviting.await.unwrap();
    assert_eq!(
        failed(&result),
        (SessionError::Cancelled, Some(bob().public_key()))
    );
    assert_eq!(ended(&result), Ended::Cancelled);
    assert_eq!(Instant::now(), start, "the acknowledgement came at once");
    assert_eq!(
        incoming.accept("").await,
        Err(AnswerError::Withdrawn(Withdrawn::Cancelled))
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_invite_future_sends_cancel() {
    let (mut net, mut listener) =
        listen_in_memory(bob(), bobs_directory(), ListenerConfig::default());
    let inviting = spawn_invite(net.connect().await, InviteOptions::default());
    let incoming = listener.next().await.unwrap();

    inviting.abort();
    assert!(inviting.await.unwrap_err().is_cancelled());
    // Withdrawn as *cancelled*, not as a lost connection: the Cancel went out.
    assert_eq!(incoming.withdrawn().await, Withdrawn::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn cancelling_before_the_invite_is_sent_shows_the_invitee_nothing() {
    let (mut net, mut listener) =
        listen_in_memory(bob(), bobs_directory(), ListenerConfig::default());
    let mut reports = listener.subscribe();
    let token = CancelToken::new();
    token.cancel();
    let options = InviteOptions {
        cancel: Some(token),
        ..InviteOptions::default()
    };
    let result = spawn_invite(net.connect().await, options).await.unwrap();
    assert_eq!(failed(&result), (SessionError::Cancelled, None));
    let report = report_where(&mut reports, |_| true).await;
    assert_eq!(report.inviter, None);
    assert!(matches!(report.outcome, InviteeOutcome::Failed(_)));
    assert!(!has_prompt(&mut listener).await);
}

/// Keeps a connection open without a Hello (idle, or with the first byte
/// of a frame), and reopens it as soon as the listener evicts it, counting
/// the evictions.
async fn silent_flooder(addr: SocketAddr, partial: bool, evictions: Arc<watch::Sender<usize>>) {
    loop {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        if partial {
            stream.write_all(&[0x00]).await.unwrap();
        }
        let got = read_all(&mut stream).await;
        assert_eq!(
            got,
            busy(),
            "an evicted silent connection gets the clear Busy"
        );
        evictions.send_modify(|n| *n += 1);
    }
}

/// Sends garbage, which ends its session at once, and comes straight back.
async fn garbage_flooder(addr: SocketAddr) {
    loop {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&[0xff; 64]).await.unwrap();
        let mut got = Vec::new();
        if stream.read_to_end(&mut got).await.is_ok() {
            // Nothing is answered to garbage, unless it is evicted first.
            assert!(got.is_empty() || got == busy(), "{got:?}");
        }
    }
}

#[tokio::test]
async fn a_flood_of_idle_and_garbage_connections_reopened_as_fast_as_evicted_cannot_keep_a_real_invitation_out(
) {
    const MAX: usize = 8;
    let cfg = ListenerConfig {
        max_handshakes: MAX,
        ..ListenerConfig::default()
    };
    let mut listener = listen_tcp(bob(), bobs_directory(), cfg);
    let addr = listener.local_addr();

    // Three times as many silent flooders as there are places: whenever
    // one is evicted it reopens and evicts another, for ever, with many
    // connections arriving at once; and garbage that comes straight back.
    // The table stays full of them.
    let (evictions, mut evicted) = watch::channel(0usize);
    let evictions = Arc::new(evictions);
    let mut flood: Vec<JoinHandle<()>> = (0..3 * MAX)
        .map(|i| tokio::spawn(silent_flooder(addr, i % 2 == 1, Arc::clone(&evictions))))
        .collect();
    flood.extend((0..MAX / 2).map(|_| tokio::spawn(garbage_flooder(addr))));
    evicted.wait_for(|n| *n >= 4 * MAX).await.unwrap();
    let before = *evicted.borrow();

    // A real invitation gets through at once, without waiting for any
    // handshake timeout.
    let mut inviting = spawn_invite_bob(addr, alice());
    let incoming = tokio::select! {
        incoming = listener.next() => incoming.unwrap(),
        result = &mut inviting => panic!("the invitation was kept out: {result:?}"),
    };
    assert_eq!(incoming.inviter, alice().public_key());
    incoming.accept("").await.unwrap();
    assert_eq!(
        inviting.await.unwrap().unwrap().response,
        Response::Accepted
    );
    let during = *evicted.borrow() - before;
    assert!(during > 0, "the flood went on during the invitation");

    for flooder in flood {
        flooder.abort();
        let end = flooder.await.unwrap_err();
        assert!(end.is_cancelled(), "a flooder failed: {end}");
    }
}

/// A connection the test holds in the listener's handshakes.
struct Held {
    stream: DuplexStream,
    peer: SocketAddr,
    /// "idle", "partial" (the first byte of a frame) or "hello" (a Hello
    /// and nothing more).
    kind: &'static str,
    /// What it has received.
    got: Vec<u8>,
}

#[tokio::test(start_paused = true)]
async fn a_full_handshake_table_evicts_silent_connections_first_then_the_oldest_and_never_exceeds_its_bound(
) {
    const MAX: usize = 4;
    let cfg = ListenerConfig {
        max_handshakes: MAX,
        ..ListenerConfig::default()
    };
    let (mut net, mut listener) = listen_in_memory(bob(), bobs_directory(), cfg);
    let mut reports = listener.subscribe();
    let start = Instant::now();

    // The connections in their handshake, oldest first, as the test
    // expects them: after every arrival, exactly these are open.
    let mut table: Vec<Held> = Vec::new();
    let mut seed = 0u8;
    // Opens a connection of `kind`; checks that it evicted the one at
    // `victim` (if any), with the right end and report, and nothing else.
    let mut arrive = async |table: &mut Vec<Held>, kind: &'static str, victim: Option<usize>| {
        let (mut stream, peer) = match kind {
            "hello" => {
                seed += 1;
                hello_then_idle(&mut net, seed).await
            }
            _ => net.open(64 * 1024).await,
        };
        if kind == "partial" {
            stream.write_all(&[0x00]).await.unwrap();
        }
        settle().await;
        let evicted = victim.map(|i| table.remove(i));
        table.push(Held {
            stream,
            peer,
            kind,
            got: Vec::new(),
        });
        let mut ended = reports_now(&mut reports);
        if let Some(mut held) = evicted {
            let (kind, peer) = (held.kind, held.peer);
            assert!(
                receive(&mut held.stream, &mut held.got).await,
                "{kind} {peer} closed"
            );
            let report = ended.pop().expect("the evicted connection reports");
            assert_eq!((report.peer, report.inviter), (peer, None));
            if kind == "hello" {
                // After its Proof nothing more goes out in clear.
                assert!(!held.got.is_empty() && !held.got.ends_with(&busy()));
                assert_eq!(report.outcome, InviteeOutcome::Evicted { busy_sent: false });
            } else {
                assert_eq!(held.got, busy(), "a silent connection gets the clear Busy");
                assert_eq!(report.outcome, InviteeOutcome::Evicted { busy_sent: true });
            }
        }
        assert!(ended.is_empty(), "no other session ended: {ended:?}");
        assert!(table.len() <= MAX);
        for held in table.iter_mut() {
            let closed = receive(&mut held.stream, &mut held.got).await;
            assert!(
                !closed,
                "{} {} is still in its handshake",
                held.kind, held.peer
            );
        }
    };

    // Four silent connections fill the table; a connection whose Hello is
    // in then evicts the oldest silent one.
    for kind in ["idle", "partial", "idle", "partial"] {
        arrive(&mut table, kind, None).await;
    }
    arrive(&mut table, "hello", Some(0)).await;
    // A flood of silent connections evicts the oldest silent one of the
    // older half each time, never the one whose Hello is in, even once it
    // is the oldest of all.
    for (kind, victim) in [
        ("idle", 0),
        ("partial", 0),
        ("idle", 0),
        ("partial", 1),
        ("idle", 1),
        ("partial", 1),
    ] {
        arrive(&mut table, kind, Some(victim)).await;
    }
    assert_eq!(table[0].kind, "hello");
    // Once the older half has only spoken, the oldest of all goes (after
    // its Proof, without a Busy), and the newer half is spared even when
    // it is silent.
    for _ in 0..3 {
        arrive(&mut table, "hello", Some(1)).await;
    }
    assert!(table.iter().all(|held| held.kind == "hello"));
    arrive(&mut table, "idle", Some(0)).await;
    arrive(&mut table, "idle", Some(0)).await;
    assert_eq!(table[2].kind, "idle");

    // A real invitation now takes the place of the oldest connection,
    // whose Hello is in, and is served at once.
    let inviting = spawn_invite(net.connect().await, InviteOptions::default());
    let incoming = listener.next().await.unwrap();
    incoming.accept("").await.unwrap();
    assert_eq!(
        inviting.await.unwrap().unwrap().response,
        Response::Accepted
    );
    let ended = reports_now(&mut reports);
    assert_eq!(ended.len(), 2, "{ended:?}");
    assert_eq!(
        (ended[0].peer, ended[0].outcome),
        (table[0].peer, InviteeOutcome::Evicted { busy_sent: false })
    );
    assert!(matches!(ended[1].outcome, InviteeOutcome::Accepted(_)));
    assert!(Instant::now() - start < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn only_when_nothing_can_be_evicted_is_a_connection_refused_busy_in_clear() {
    // With no handshakes allowed, every connection is refused.
    let (mut net, _listener, mut reports) = with_handshake_places(0);
    let refused = spawn_invite(net.connect().await, InviteOptions::default())
        .await
        .unwrap();
    assert_eq!(failed(&refused), refusal(Refusal::Busy, false, None));
    assert_eq!(ended(&refused), Ended::Refused);
    let report = report_where(&mut reports, |_| true).await;
    assert_eq!(
        (report.inviter, report.outcome),
        (None, InviteeOutcome::Refused(Refusal::Busy))
    );

    // With one place, an evicted connection that does not take its Busy
    // keeps closing (up to the grace) and holds the one eviction allowed
    // meanwhile: the next newcomer is refused instead of evicting.
    let (mut net, _listener, mut reports) = with_handshake_places(1);
    let (mut stuck, stuck_peer) = net.open(4).await;
    let (mut second, second_peer) = net.open(64 * 1024).await;
    settle().await;
    let ended = reports_now(&mut reports);
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(
        (ended[0].peer, ended[0].outcome),
        (stuck_peer, InviteeOutcome::Evicted { busy_sent: true })
    );

    let (mut third, third_peer) = net.open(64 * 1024).await;
    let got = read_all(&mut third).await;
    assert_eq!(got, busy());
    let report = report_where(&mut reports, |_| true).await;
    assert_eq!(
        (report.peer, report.outcome),
        (third_peer, InviteeOutcome::Refused(Refusal::Busy))
    );
    let mut nothing = Vec::new();
    assert!(!receive(&mut second, &mut nothing).await && nothing.is_empty());

    // Once the stuck one has taken its Busy and is gone, eviction resumes.
    let got = read_all(&mut stuck).await;
    assert_eq!(got, busy());
    settle().await;
    let _fourth = net.connect().await;
    let got = read_all(&mut second).await;
    assert_eq!(got, busy());
    let report = report_where(&mut reports, |_| true).await;
    assert_eq!(
        (report.peer, report.outcome),
        (second_peer, InviteeOutcome::Evicted { busy_sent: true })
    );
}

#[tokio::test(start_paused = true)]
async fn stalled_handshakes_are_dropped_at_the_handshake_timeout_and_free_their_slots() {
    let (mut net, mut listener, mut reports) = with_handshake_places(2);
    let start = Instant::now();
    let mut idle = [net.connect().await, net.connect().await];

    for _ in 0..2 {
        report_where(&mut reports, |r| {
            r.outcome == InviteeOutcome::Failed(SessionError::HandshakeTimeout)
        })
        .await;
    }
    assert_eq!(Instant::now(), start + Duration::from_secs(30));
    for stream in &mut idle {
        let got = read_all(stream).await;
        assert!(got.is_empty(), "nothing is sent at the handshake timeout");
    }
    // Both places are free: two invitations at once, nothing evicted.
    let first = spawn_invite(net.connect().await, InviteOptions::default());
    let second = spawn_invite(net.connect().await, InviteOptions::default());
    listener.next().await.unwrap().accept("").await.unwrap();
    listener.next().await.unwrap().accept("").await.unwrap();
    assert_eq!(first.await.unwrap().unwrap().response, Response::Accepted);
    assert_eq!(second.await.unwrap().unwrap().response, Response::Accepted);
    let ended = reports_now(&mut reports);
    assert!(
        ended
            .iter()
            .all(|r| matches!(r.outcome, InviteeOutcome::Accepted(_))),
        "{ended:?}"
    );
}

#[tokio::test]
async fn beyond_the_pending_prompts_an_invitation_is_answered_busy() {
    let cfg = ListenerConfig {
        max_prompts: 1,
        ..ListenerConfig::default()
    };
    let mut listener = listen_tcp(bob(), bobs_directory(), cfg);
    let addr = listener.local_addr();
    let first = spawn_invite_bob(addr, alice());
    let pending: IncomingInvitation = listener.next().await.unwrap();

    let second = spawn_invite_bob(addr, alice()).await.unwrap();
    assert_eq!(
        failed(&second),
        refusal(Refusal::Busy, true, Some(bob().public_key()))
    );

    pending.accept("").await.unwrap();
    assert_eq!(first.await.unwrap().unwrap().response, Response::Accepted);
    let third = spawn_invite_bob(addr, alice());
    listener.next().await.unwrap().decline("").await;
    assert_eq!(third.await.unwrap().unwrap().response, Response::Declined);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_prompt_unanswered_declines_it() {
    let (mut net, mut listener) =
        listen_in_memory(bob(), bobs_directory(), ListenerConfig::default());
    let inviting = spawn_invite(net.connect().await, InviteOptions::default());
    drop(listener.next().await.unwrap());
    let answer = inviting.await.unwrap().unwrap();
    assert_eq!(answer.response, Response::Declined);
}

#[tokio::test(start_paused = true)]
async fn garbage_from_the_responder_is_a_failed_connection() {
    let (inviter_end, mut responder_end) = tokio::io::duplex(1024);
    let inviting = spawn_invite(inviter_end, InviteOptions::default());
    responder_end.write_all(&[0xff; 64]).await.unwrap();
    let result = inviting.await.unwrap();
    assert!(
        matches!(failed(&result), (SessionError::Protocol(_), None)),
        "{result:?}"
    );
    assert_eq!(ended(&result), Ended::ConnectionFailed);
}

#[tokio::test(start_paused = true)]
async fn garbage_to_the_listener_ends_that_session_and_frees_its_slot() {
    let (mut net, mut listener, mut reports) = with_handshake_places(1);
    let mut garbage = net.connect().await;
    garbage.write_all(&[0xff; 64]).await.unwrap();
    let mut rest = Vec::new();
    garbage.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "nothing is answered to garbage");
    let report = report_where(&mut reports, |_| true).await;
    assert!(matches!(
        report.outcome,
        InviteeOutcome::Failed(SessionError::Protocol(_))
    ));

    let inviting = spawn_invite(net.connect().await, InviteOptions::default());
    listener.next().await.unwrap().accept("").await.unwrap();
    assert_eq!(
        inviting.await.unwrap().unwrap().response,
        Response::Accepted
    );
}

#[test]
fn the_invite_future_is_send() {
    fn assert_send<T: Send>(_: T) {}
    let (stream, _) = tokio::io::duplex(16);
    let alice = alice();
    let invitation = Invitation::new(CHESS, "", b"").unwrap();
    assert_send(invite(
        stream,
        &alice,
        Target::AnyEndpoint,
        &invitation,
        InviteOptions::default(),
        |_| {},
    ));
}

#[tokio::test]
async fn a_launch_that_failed_is_answered_with_its_error_code() {
    let mut listener = listen_tcp(bob(), bobs_directory(), ListenerConfig::default());
    let addr = listener.local_addr();
    let inviting = spawn_invite_bob(addr, alice());
    let incoming = listener.next().await.unwrap();
    // What an accept would launch, known before answering.
    let info = incoming.launch_info();
    assert_eq!(info.inviter, alice().public_key());
    assert_eq!(info.application, CHESS);
    assert_eq!(info.data, b"board=standard");
    assert_eq!(info.endpoint, incoming.peer);
    incoming
        .fail(
            Response::ERROR_LAUNCH_NOT_FOUND,
            "chess is not installed here",
        )
        .await
        .unwrap();
    let answer = inviting.await.unwrap().unwrap();
    assert_error_answer(
        &answer,
        Response::ERROR_LAUNCH_NOT_FOUND,
        "chess is not installed here",
    );
    assert_eq!(answer.responder, bob().public_key());
}

#[tokio::test]
async fn a_listener_that_stops_answers_every_waiting_inviter() {
    let dir = directory(
        Policy::TrustedOnly,
        &[(&alice(), "alice"), (&carol(), "carol")],
    );
    let cfg = ListenerConfig {
        max_prompts: 4,
        ..ListenerConfig::default()
    };
    let mut listener = listen_tcp(bob(), dir, cfg);
    let addr = listener.local_addr();
    let target = Target::Contact(bob().public_key());
    // Each inviter says when it waits for the answer (its invitation is
    // then a prompt, shown or queued).
    let (waiting_tx, mut waiting) = mpsc::unbounded_channel();
    let inviters: Vec<_> = [alice(), carol(), alice()]
        .into_iter()
        .map(|who| {
            let tx = waiting_tx.clone();
            spawn_invite_tcp(addr, who, target, InviteOptions::default(), move |p| {
                if matches!(p, Progress::Waiting { .. }) {
                    let _ = tx.send(());
                }
            })
        })
        .collect();
    for _ in 0..3 {
        waiting.recv().await.unwrap();
    }
    // All three are prompts: one the application fails itself, two it
    // holds unanswered when the listener stops; and one more connection
    // sits in its handshake.
    let shown = listener.next().await.unwrap();
    let held = [
        listener.next().await.unwrap(),
        listener.next().await.unwrap(),
    ];
    let idle = TcpStream::connect(addr).await.unwrap();
    shown
        .fail(Response::ERROR_STOPPED, "stopped listening")
        .await
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(20),
        listener.shutdown(Response::ERROR_STOPPED, "stopped listening", GRACE),
    )
    .await
    .expect("shutdown returns");
    for inviting in inviters {
        let answer = inviting.await.unwrap().unwrap();
        assert_error_answer(&answer, Response::ERROR_STOPPED, "stopped listening");
    }
    // Held until here: the answers were the listener's, not a decline on
    // drop.
    drop(held);
    drop(idle);
}
