//! A walk through Beckon, driven by hand and printed step by step.
//!
//! Alice invites her contact Bob to a game of chess; Bob accepts. Then two
//! short stories: Carol, whom Bob does not know, is refused; and Alice
//! invites Bob where Carol answers, so the invitation never leaves.
//!
//! Nothing here touches a network or a clock: the two state machines are
//! plain values, and this program carries their bytes across and moves a
//! virtual clock. Identities and ephemeral keys come from a seeded
//! ChaCha20 generator, so the output is the same on every run; pass another
//! seed to see other keys:
//!
//! ```text
//! cargo run -p beckon-core --example walkthrough
//! cargo run -p beckon-core --example walkthrough -- 7
//! ```

use std::error::Error as StdError;
use std::fmt::Write as _;

use beckon_core::internal::frame::FrameKind;
use beckon_core::{
    ApplicationId, Config, Contact, Decision, Directory, EphemeralSecret, FixedDirectory, Identity,
    Invitation, Invitee, InviteeEvent, InviteeOutcome, Inviter, InviterEvent, Machine, Permission,
    Policy, Prompt, PublicKey, Refusal, Response, SessionError, Target,
};
use embassy_time::{Duration, Instant};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// The seed used when none is given: any fixed value makes the output
/// reproducible.
const DEFAULT_SEED: u64 = 2024;

/// One-way delay of the pretend network.
const LATENCY: Duration = Duration::from_millis(20);

/// The application invited to, with its usual UUID text form.
const CHESS: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";

type Dir = FixedDirectory<8, 4>;

type Result<T> = std::result::Result<T, Box<dyn StdError>>;

/// A person in the stories: a name and an identity.
struct Person {
    name: &'static str,
    identity: Identity,
}

impl Person {
    fn key(&self) -> PublicKey {
        self.identity.public_key()
    }
}

fn main() -> Result<()> {
    let seed = match std::env::args().nth(1) {
        Some(arg) => arg.parse::<u64>()?,
        None => DEFAULT_SEED,
    };
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let chess: ApplicationId = CHESS.parse()?;

    println!("Beckon walkthrough (seed {seed})");
    println!("Alice invites her contact Bob to a game of chess, in memory:");
    println!("no network, no clock; every key below comes from the seed.");

    section("1. Identities");
    let people = [
        ("Alice", "alice@example"),
        ("Bob", "bob@example"),
        ("Carol", "carol@example"),
    ]
    .map(|(name, comment)| {
        let identity = Identity::generate(&mut rng);
        println!("{name}");
        println!(
            "    key line:    {}",
            identity.public_key().to_openssh(comment)
        );
        println!("    fingerprint: {}", identity.public_key().fingerprint());
        Person { name, identity }
    });
    let [alice, bob, carol] = &people;
    println!();
    println!("The key line is what you paste into a contact list (OpenSSH format);");
    println!("the fingerprint is what `ssh-keygen -lf` prints for the same key.");

    section("2. Bob's directory");
    let mut directory = Dir::new(Policy::TrustedOnly);
    directory.add_contact(Contact::new(alice.key(), "alice", "Alice Liddell")?)?;
    directory.register(chess, "Chess")?;
    print_directory(&directory, &people);

    section("3. Alice invites Bob; Bob accepts");
    let invitation = Invitation::new(chess, "A game? I'll take black.", b"board=standard")?;
    println!(
        "Alice's invitation: application {chess}, message {:?}, {} bytes of data.",
        invitation.message(),
        invitation.data().len()
    );
    println!("Alice invites the contact Bob: whoever answers must prove Bob's key.");
    println!();
    let mut session = Session::start(
        alice,
        bob,
        Target::Contact(bob.key()),
        &invitation,
        &mut rng,
    )?;
    let events = session.pump(&directory);
    let prompt = session.expect_prompt(&events)?;
    show_prompt(&session, &prompt, &directory, &people)?;

    session.now += Duration::from_secs(8);
    let reply = "Sure, see you on the board!";
    println!(
        "{} Bob clicks Accept, with the message {reply:?}.",
        session.clock()
    );
    session
        .invitee
        .handle_decision(session.now, Decision::accept(reply)?)?;
    let events = session.pump(&directory);
    for event in &events.invitee {
        if let InviteeEvent::Finished(InviteeOutcome::Accepted(launch)) = event {
            println!(
                "{} Bob's side: launch {} for {} ({}).",
                session.clock(),
                describe_application(&directory, launch.application),
                name_of(&people, &launch.inviter),
                launch.inviter.fingerprint()
            );
        }
    }
    let result = session.inviter_result(&events)?;
    println!();
    println!("Alice's result: {}", describe_result(&result));
    let verified = session
        .inviter
        .responder()
        .ok_or("Alice has no verified responder")?;
    println!(
        "    answered by: {} ({}), verified",
        name_of(&people, &verified),
        verified.fingerprint()
    );
    println!("    message:     {:?}", session.inviter.answer_message()?);
    println!(
        "    on the wire: {} bytes from Alice, {} from Bob, {} in all",
        session.from_inviter,
        session.from_invitee,
        session.from_inviter + session.from_invitee
    );
    check(
        result == Ok(Response::Accepted),
        "the exchange ends Accepted",
    )?;
    check(verified == bob.key(), "the verified responder is Bob")?;

    section("4. Carol, a stranger to Bob, is refused");
    println!("Carol is not in Bob's contacts, and Bob takes invitations from");
    println!("trusted contacts only.");
    println!();
    let invitation = Invitation::new(chess, "Fancy a game?", b"")?;
    let mut session = Session::start(
        carol,
        bob,
        Target::Contact(bob.key()),
        &invitation,
        &mut rng,
    )?;
    let events = session.pump(&directory);
    let result = session.inviter_result(&events)?;
    println!();
    println!("Carol's result: {}", describe_result(&result));
    println!(
        "Bob's side:     {}; Bob was never asked.",
        describe_invitee_end(&events)
    );
    check(
        result
            == Err(SessionError::Refused {
                reason: Refusal::NotTrusted,
                authenticated: true,
            }),
        "Carol is refused as not trusted, inside the channel",
    )?;
    check(
        !events
            .invitee
            .iter()
            .any(|e| matches!(e, InviteeEvent::Prompt(_))),
        "Bob is not prompted",
    )?;

    section("5. Alice invites Bob, but Carol answers");
    println!("Alice dials the address she has for Bob; Carol's device answers");
    println!("(Carol would take invitations from anyone).");
    println!();
    let mut carols_directory = Dir::new(Policy::Anyone);
    carols_directory.register(chess, "Chess")?;
    let invitation = Invitation::new(chess, "A game? I'll take black.", b"board=standard")?;
    let mut session = Session::start(
        alice,
        carol,
        Target::Contact(bob.key()),
        &invitation,
        &mut rng,
    )?;
    let mut events = session.pump(&carols_directory);
    let result = session.inviter_result(&events)?;
    let responder = session
        .inviter
        .responder()
        .ok_or("Alice saw no proof at all")?;
    println!();
    println!("Alice's result: {}", describe_result(&result));
    println!(
        "    the responder proved {} ({}), not Bob's key {}",
        responder.fingerprint(),
        name_of(&people, &responder),
        bob.key().fingerprint()
    );
    println!(
        "    Alice sent {} bytes: her Hello only. Not one byte of the invitation left.",
        session.from_inviter
    );
    // Alice's side is finished: her program closes the connection.
    session.invitee.handle_close(session.now);
    while let Some(e) = session.invitee.poll_event() {
        events.invitee.push(e);
    }
    println!(
        "Carol's side:   {}; she never saw the invitation.",
        describe_invitee_end(&events)
    );
    check(
        result == Err(SessionError::ContactMismatch),
        "Alice stops with ContactMismatch",
    )?;
    check(
        session.from_inviter == beckon_core::internal::frame::HELLO_FRAME_LEN,
        "only the Hello left Alice",
    )?;

    println!();
    println!("Done. The same state machines run in the tests (`cargo test --workspace`)");
    println!("and build with no std and no allocator for a Cortex-M (thumbv7em-none-eabihf).");
    Ok(())
}

/// Both ends of one connection, a virtual clock, and byte counters.
struct Session<'a> {
    inviter_name: &'a str,
    invitee_name: &'a str,
    inviter: Inviter,
    invitee: Invitee,
    start: Instant,
    now: Instant,
    from_inviter: usize,
    from_invitee: usize,
    sealed_from_inviter: usize,
}

/// The events each side reported during one [`Session::pump`].
#[derive(Default)]
struct Events {
    inviter: Vec<InviterEvent>,
    invitee: Vec<InviteeEvent>,
}

impl<'a> Session<'a> {
    fn start(
        from: &'a Person,
        to: &'a Person,
        target: Target,
        invitation: &Invitation<'_>,
        rng: &mut ChaCha20Rng,
    ) -> Result<Self> {
        let start = Instant::from_secs(0);
        let inviter = Inviter::new(
            Config::default(),
            &from.identity,
            target,
            invitation,
            EphemeralSecret::generate(rng),
            start,
        )?;
        let invitee = Invitee::new(
            Config::default(),
            &to.identity,
            EphemeralSecret::generate(rng),
            start,
        )?;
        Ok(Session {
            inviter_name: from.name,
            invitee_name: to.name,
            inviter,
            invitee,
            start,
            now: start,
            from_inviter: 0,
            from_invitee: 0,
            sealed_from_inviter: 0,
        })
    }

    /// The virtual time, for the start of a line.
    fn clock(&self) -> String {
        let ms = (self.now - self.start).as_millis();
        format!("[t={:>3}.{:03} s]", ms / 1000, ms % 1000)
    }

    /// Carries bytes both ways, one hop of latency each, printing every
    /// frame, until neither side has anything to send. Follows the call
    /// contract: after each input, drain `poll_transmit`, then `poll_event`.
    fn pump(&mut self, directory: &Dir) -> Events {
        let mut events = Events::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self.inviter.poll_transmit(&mut buf);
            if n > 0 {
                self.now += LATENCY;
                self.from_inviter += n;
                self.print_frames(&buf[..n], true);
                self.invitee.handle_input(self.now, &buf[..n], directory);
            }
            let m = self.invitee.poll_transmit(&mut buf);
            if m > 0 {
                self.now += LATENCY;
                self.from_invitee += m;
                self.print_frames(&buf[..m], false);
                self.inviter.handle_input(self.now, &buf[..m], &());
            }
            while let Some(e) = self.inviter.poll_event() {
                if let InviterEvent::Verified(key) = e {
                    println!(
                        "{} {}: the responder proved {}, the key {} meant; the invitation goes out.",
                        self.clock(),
                        self.inviter_name,
                        key.fingerprint(),
                        self.inviter_name
                    );
                }
                events.inviter.push(e);
            }
            while let Some(e) = self.invitee.poll_event() {
                events.invitee.push(e);
            }
            if n == 0 && m == 0 {
                return events;
            }
        }
    }

    /// Prints each frame in a chunk of bytes handed to the other side.
    fn print_frames(&mut self, bytes: &[u8], from_inviter: bool) {
        let (from, to) = if from_inviter {
            (self.inviter_name, self.invitee_name)
        } else {
            (self.invitee_name, self.inviter_name)
        };
        let mut rest = bytes;
        while let [hi, lo, kind, ..] = *rest {
            let len = (2 + usize::from(u16::from_be_bytes([hi, lo]))).min(rest.len());
            let (name, what) = match FrameKind::from_byte(kind) {
                Ok(FrameKind::Hello) => (
                    "Hello",
                    "in clear: protocol version and an ephemeral X25519 key",
                ),
                Ok(FrameKind::Proof) => (
                    "Proof",
                    "ephemeral key; encrypted: ed25519 key + signature over the handshake",
                ),
                Ok(FrameKind::Refusal) => ("Refusal", "in clear: a reason, unauthenticated"),
                Ok(FrameKind::Sealed) if from_inviter => {
                    self.sealed_from_inviter += 1;
                    if self.sealed_from_inviter == 1 {
                        (
                            "Invite",
                            "encrypted: the invitation, ed25519 key + signature",
                        )
                    } else {
                        ("Cancel", "encrypted")
                    }
                }
                Ok(FrameKind::Sealed) => ("Answer", "encrypted"),
                Err(_) => ("?", "unknown frame kind"),
            };
            println!(
                "{} {from:>5} -> {to:<5} {name:<7} {len:>4} bytes  {what}",
                self.clock()
            );
            rest = &rest[len..];
        }
    }

    /// The prompt the invitee raised, or an error saying what happened
    /// instead.
    fn expect_prompt(&self, events: &Events) -> Result<Prompt> {
        events
            .invitee
            .iter()
            .find_map(|e| match e {
                InviteeEvent::Prompt(p) => Some(*p),
                _ => None,
            })
            .ok_or_else(|| format!("no prompt; events: {:?}", events.invitee).into())
    }

    /// How the inviter's session ended, or an error if it has not.
    fn inviter_result(
        &self,
        events: &Events,
    ) -> Result<std::result::Result<Response, SessionError>> {
        events
            .inviter
            .iter()
            .find_map(|e| match e {
                InviterEvent::Finished(r) => Some(*r),
                _ => None,
            })
            .ok_or_else(|| format!("{} has no result", self.inviter_name).into())
    }
}

/// What Bob's screen shows: who, their fingerprint, the application, the
/// message, the data size, the deadline.
fn show_prompt(
    session: &Session<'_>,
    prompt: &Prompt,
    directory: &Dir,
    people: &[Person],
) -> Result<()> {
    let invitation = session
        .invitee
        .invitation()
        .ok_or("a prompt without an invitation")?;
    let who = match directory.contact(&prompt.inviter) {
        Some(c) if prompt.is_contact => {
            format!("{} ({}), a contact", c.display_name(), c.nickname())
        }
        _ => format!("unknown ({})", name_of(people, &prompt.inviter)),
    };
    let left = (prompt.deadline - session.now).as_secs();
    let mut lines = String::new();
    writeln!(lines, "Invitation from {who}")?;
    writeln!(lines, "  fingerprint  {}", prompt.inviter.fingerprint())?;
    writeln!(
        lines,
        "  application  {}",
        describe_application(directory, prompt.application)
    )?;
    writeln!(lines, "  message      {:?}", invitation.message())?;
    writeln!(lines, "  data         {} bytes", invitation.data().len())?;
    let deadline_ms = (prompt.deadline - session.start).as_millis();
    write!(
        lines,
        "  answer by    t={}.{:03} s ({} min {} s from now)",
        deadline_ms / 1000,
        deadline_ms % 1000,
        left / 60,
        left % 60
    )?;
    println!();
    println!("{} Bob's screen:", session.clock());
    let width = lines.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    println!("    +-{}-+", "-".repeat(width));
    for line in lines.lines() {
        println!("    | {line:<width$} |");
    }
    println!("    +-{}-+", "-".repeat(width));
    Ok(())
}

fn print_directory(directory: &Dir, people: &[Person]) {
    let policy = match directory.policy() {
        Policy::Off => "invitations off",
        Policy::TrustedOnly => "trusted contacts only",
        Policy::Anyone => "anyone not blocked",
    };
    println!("policy:        {policy}");
    for c in directory.contacts() {
        let permission = match c.permission() {
            Permission::Allowed => "allowed",
            Permission::Blocked => "blocked",
        };
        println!(
            "contact:       {} ({:?}), {permission}, {} = {}",
            c.nickname(),
            c.display_name(),
            c.key().fingerprint(),
            name_of(people, c.key())
        );
    }
    for r in directory.registrations() {
        println!("application:   {} {:?}", r.id(), r.description());
    }
}

fn describe_application(directory: &Dir, id: ApplicationId) -> String {
    match directory.registration(&id) {
        Some(r) => format!("{} ({id})", r.description()),
        None => format!("{id} (not registered)"),
    }
}

fn describe_result(result: &std::result::Result<Response, SessionError>) -> String {
    match result {
        Ok(response) => format!("{response:?}"),
        Err(e) => format!("{e} [{}]", e.reference_code()),
    }
}

fn describe_invitee_end(events: &Events) -> String {
    let outcome = events.invitee.iter().find_map(|e| match e {
        InviteeEvent::Finished(o) => Some(*o),
        _ => None,
    });
    match outcome {
        Some(InviteeOutcome::Refused(reason)) => format!("refused ({reason})"),
        Some(InviteeOutcome::Failed(e)) => format!("ended: {e}"),
        Some(other) => format!("{other:?}"),
        None => "still waiting".to_owned(),
    }
}

/// A heading between the parts of the walkthrough.
fn section(title: &str) {
    println!();
    println!("== {title} ==");
    println!();
}

/// Whose key this is, for the narration.
fn name_of(people: &[Person], key: &PublicKey) -> &'static str {
    people
        .iter()
        .find(|p| p.key() == *key)
        .map_or("someone unknown", |p| p.name)
}

/// Stops the walkthrough with an error if the protocol did not do what the
/// story says.
fn check(ok: bool, what: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(format!("unexpected: it is not true that {what}").into())
    }
}
