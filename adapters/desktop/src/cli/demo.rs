//! `beckon demo`: three people on this computer, three short stories, in
//! seconds. Every step is the real thing — key files, contact files,
//! TCP on loopback, the Noise handshake, the policy, the launch — with
//! temporary homes that are removed afterwards.

use beckon_desktop::launch_and_wait;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use beckon_core::{
    Identity, Invitation, InviteeOutcome, Policy, Refusal, Response, SessionError, Target,
};
use beckon_tokio::{
    invite_tcp, Answer, InviteError, InviteOptions, Listener, ListenerConfig, Progress,
    SessionReport,
};
use clap::Args;
use tokio::sync::broadcast;

use super::output::{quoted, say};
use super::{exit, CliError, CliResult};
use beckon_desktop::store::{
    app_id_for_name, AppEntry, ContactEntry, Home, StoreDirectory, StoredIdentity,
};

/// `beckon demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Keep the three temporary homes (their paths are printed) instead of
    /// removing them.
    #[arg(long)]
    keep: bool,
}

/// How long any one step may take before the demo says it went wrong.
const STEP: Duration = Duration::from_secs(10);

struct TempRoot {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[derive(Clone)]
struct Person {
    name: &'static str,
    home: Home,
    me: StoredIdentity,
}

impl Person {
    fn new(root: &std::path::Path, name: &'static str) -> Result<Self, CliError> {
        let home = Home::at(root.join(name));
        let me = StoredIdentity {
            identity: Identity::generate(&mut rand::rng()),
            nickname: name.to_owned(),
            passphrase: None,
        };
        home.save_identity(&me, false)?;
        Ok(Person { name, home, me })
    }

    fn add_contact(&self, other: &Person) -> Result<(), CliError> {
        let entry = ContactEntry::new(other.name, other.me.identity.public_key(), other.name)?;
        self.home.update_contacts(|l| {
            l.push(entry);
            Ok(())
        })?;
        Ok(())
    }

    fn fingerprint(&self) -> String {
        self.me.identity.public_key().fingerprint().to_string()
    }
}

fn say(who: &str, text: &str) {
    say!("  {who:<5} | {text}");
}

fn unexpected(what: &str) -> CliError {
    CliError::new(exit::SOFTWARE, format!("demo: unexpected outcome: {what}"))
}

async fn step<T>(what: &str, f: impl std::future::Future<Output = T>) -> Result<T, CliError> {
    tokio::time::timeout(STEP, f)
        .await
        .map_err(|_| unexpected(&format!("{what} took more than {STEP:?}")))
}

/// Alice's side of one invitation, with her progress printed.
async fn invite(
    from: &Person,
    to: std::net::SocketAddr,
    target: Target,
    message: &str,
    data: &[u8],
) -> Result<Answer, InviteError> {
    let invitation =
        Invitation::new(app_id_for_name("chess"), message, data).map_err(InviteError::Invalid)?;
    let name = from.name;
    say(name, &format!("connecting to {to}"));
    invite_tcp(
        to,
        &from.me.identity,
        target,
        &invitation,
        InviteOptions::default(),
        move |p| match p {
            Progress::Connected => say(
                name,
                "connected; Noise handshake, the responder proves its key",
            ),
            Progress::Verified { responder } => say(
                name,
                &format!("verified the responder's key {}", responder.fingerprint()),
            ),
            Progress::Waiting { deadline, .. } => {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                say(
                    name,
                    &format!(
                        "invitation sent (encrypted); waiting for the answer \u{2014} {} left",
                        super::clock(left)
                    ),
                );
            }
        },
    )
    .await
}

async fn next_report(
    reports: &mut broadcast::Receiver<SessionReport>,
) -> Result<SessionReport, CliError> {
    step("a session report", async {
        loop {
            match reports.recv().await {
                Ok(r) => return Ok(r),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return Err(unexpected("the listener stopped")),
            }
        }
    })
    .await?
}

pub(crate) async fn run(args: DemoArgs) -> CliResult {
    let started = Instant::now();
    let root = TempRoot {
        path: std::env::temp_dir().join(format!(
            "beckon-demo-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        )),
        keep: args.keep,
    };
    say!("Beckon demo: three people on this computer, talking over loopback TCP.");
    say!("Each has a fresh ed25519 identity in a temporary BECKON_HOME:");
    let alice = Person::new(&root.path, "alice")?;
    let bob = Person::new(&root.path, "bob")?;
    let carol = Person::new(&root.path, "carol")?;
    for p in [&alice, &bob, &carol] {
        say!("  {:<5}  {}", p.name, p.me.card());
        say!("         {}", p.fingerprint());
    }
    if args.keep {
        say!("  (homes kept under {})", root.path.display());
    }

    // Bob trusts Alice and registers chess: a command that prints what it
    // was launched with. Alice has Bob as a contact. Carol knows Bob's key
    // too, but Bob does not know Carol; Carol accepts invitations from
    // anyone.
    bob.add_contact(&alice)?;
    alice.add_contact(&bob)?;
    carol.add_contact(&bob)?;
    let exe = std::env::current_exe()
        .map_err(|e| CliError::io(format!("cannot find the beckon binary: {e}")))?
        .to_string_lossy()
        .into_owned();
    for p in [&bob, &carol] {
        let entry = AppEntry::new(
            "chess",
            None,
            "Chess (the demo prints its invitation)",
            vec![exe.clone(), "show-invitation".into(), "chess".into()],
        )?;
        p.home.update_apps(|l| {
            l.push(entry);
            Ok(())
        })?;
    }
    carol.home.set_policy(Policy::Anyone)?;
    say!();
    say!("Bob's contacts: alice (allowed). Policy: trusted contacts only.");
    say!(
        "Bob registered \"chess\" = {} (UUIDv5 of the name), launching `beckon show-invitation`.",
        app_id_for_name("chess")
    );
    say!("Carol's policy: anyone. Alice has Bob's card as her contact \"bob\".");

    let bob_dir = Arc::new(StoreDirectory::open(bob.home.clone())?);
    let carol_dir = Arc::new(StoreDirectory::open(carol.home.clone())?);
    let bind = |p: &Person, dir: Arc<StoreDirectory>| {
        Listener::bind(
            "127.0.0.1:0",
            p.me.identity.clone(),
            dir,
            ListenerConfig::default(),
        )
        .map_err(|e| CliError::new(exit::UNAVAILABLE, format!("cannot listen on loopback: {e}")))
    };
    let mut bob_listener = bind(&bob, Arc::clone(&bob_dir))?;
    let mut carol_listener = bind(&carol, Arc::clone(&carol_dir))?;
    let mut bob_reports = bob_listener.subscribe();
    let mut carol_reports = carol_listener.subscribe();
    let bob_at = bob_listener.local_addr();
    let carol_at = carol_listener.local_addr();
    say!("Bob listens on {bob_at}; Carol listens on {carol_at}.");

    // ---- 1. Alice invites Bob ----
    say!();
    say!("1. Alice invites Bob to chess at {bob_at}.");
    let bob_key = bob.me.identity.public_key();
    let alice_side = {
        let alice_for_task = alice.clone();
        tokio::spawn(async move {
            invite(
                &alice_for_task,
                bob_at,
                Target::Contact(bob_key),
                "Fancy a game?",
                b"board=standard; alice plays white",
            )
            .await
        })
    };
    let incoming = step("Bob's prompt", bob_listener.next())
        .await?
        .ok_or_else(|| unexpected("Bob's listener stopped"))?;
    let snapshot = bob_dir.snapshot();
    let from = snapshot
        .contact(&incoming.inviter)
        .map_or("unknown", |c| c.name.as_str())
        .to_owned();
    say(
        "bob",
        &format!(
            "verified the inviter's key {} = his contact {from}",
            incoming.inviter.fingerprint()
        ),
    );
    say(
        "bob",
        &format!(
            "prompt: {from} invites you to chess: {} ({} bytes of data) \u{2014} {} to answer",
            quoted(&incoming.message),
            incoming.data.len(),
            super::clock(incoming.time_left())
        ),
    );
    say("bob", "auto-accepting, and launching chess:");
    let info = step("accepting", incoming.accept("See you on the board"))
        .await?
        .map_err(|e| unexpected(&format!("Bob could not accept: {e}")))?;
    let app = snapshot
        .app(&info.application)
        .ok_or_else(|| unexpected("chess is not registered"))?;
    let (program, app_args) = app
        .command
        .split_first()
        .ok_or_else(|| unexpected("empty command"))?;
    // The launched command writes to the same stdout: what is queued
    // comes first.
    super::output::flush(Duration::from_secs(1));
    let status = step(
        "the launched command",
        launch_and_wait(program, app_args, &info, Some(&from), app.data),
    )
    .await?
    .map_err(|e| unexpected(&format!("launching chess: {e}")))?;
    say("bob", &format!("chess exited: {status}"));
    let answer = step("Alice's answer", alice_side)
        .await?
        .map_err(|e| unexpected(&format!("Alice's task: {e}")))?
        .map_err(|e| unexpected(&format!("Alice's invitation: {e}")))?;
    if answer.response != Response::Accepted || answer.responder != bob_key {
        return Err(unexpected(&format!("{answer:?}")));
    }
    say(
        "alice",
        &format!(
            "ACCEPTED by bob, verified key {} (the key she has for Bob), message {}",
            answer.responder.fingerprint(),
            quoted(&answer.message)
        ),
    );
    let _ = next_report(&mut bob_reports).await?;

    // ---- 2. Carol, a stranger to Bob, invites him ----
    say!();
    say!("2. Carol, whom Bob does not know, invites Bob.");
    let result = invite(
        &carol,
        bob_at,
        Target::Contact(bob_key),
        "Hi, remember me?",
        b"",
    )
    .await;
    let report = next_report(&mut bob_reports).await?;
    match report.outcome {
        InviteeOutcome::Refused(reason) => say(
            "bob",
            &format!(
                "refused {} before asking anyone: {reason}",
                report.inviter.map_or_else(
                    || "an unknown inviter".to_owned(),
                    |k| format!("unknown key {}", k.fingerprint())
                )
            ),
        ),
        other => return Err(unexpected(&format!("Bob's side: {other:?}"))),
    }
    match result {
        Err(
            ref e @ InviteError::Failed {
                error:
                    SessionError::Refused {
                        reason: Refusal::NotTrusted,
                        authenticated: true,
                    },
                ..
            },
        ) => say(
            "carol",
            &format!(
                "REFUSED: {e} \u{2014} signed by Bob's verified key; exit code {}",
                exit::for_invite_error(e)
            ),
        ),
        other => return Err(unexpected(&format!("Carol's invitation: {other:?}"))),
    }

    // ---- 3. Alice invites "Bob", but Carol answers ----
    say!();
    say!("3. Alice invites Bob at {carol_at}, where Carol answers instead.");
    let result = invite(
        &alice,
        carol_at,
        Target::Contact(bob_key),
        "Secret plans for Bob only",
        b"the plans",
    )
    .await;
    match result {
        Err(
            ref e @ InviteError::Failed {
                error: SessionError::ContactMismatch,
                responder: Some(key),
            },
        ) if key == carol.me.identity.public_key() => {
            say(
                "alice",
                &format!(
                    "CONTACT MISMATCH: the responder proved {}, not Bob's key; exit code {}",
                    key.fingerprint(),
                    exit::for_invite_error(e)
                ),
            );
            say(
                "alice",
                "she stopped before sending anything of the invitation",
            );
        }
        other => return Err(unexpected(&format!("Alice at Carol's: {other:?}"))),
    }
    let report = next_report(&mut carol_reports).await?;
    if report.inviter.is_some() {
        return Err(unexpected("Carol learned who invited her"));
    }
    let prompt = tokio::time::timeout(Duration::from_millis(200), carol_listener.next()).await;
    if let Ok(Some(_)) = prompt {
        return Err(unexpected("Carol got a prompt"));
    }
    say(
        "carol",
        "a connection came and went: no invitation, no prompt, not even who it was from",
    );

    say!();
    say!(
        "All three stories went as they should, in {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    say!("Try it between two terminals: `beckon init`, `beckon id`, `beckon contact add`,");
    say!("`beckon app register`, `beckon listen` and `beckon invite` (see `beckon --help`).");
    Ok(exit::OK)
}

/// `beckon show-invitation APP` (hidden): what the demo's registered
/// command runs. Prints the environment and stdin Beckon launched it with.
pub(crate) fn show_invitation(app: &str) -> CliResult {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    // The data: in the file BECKON_DATA_FILE names (`--data file`, the
    // default), else on stdin (`--data stdin`).
    let mut data = Vec::new();
    let from = match std::env::var_os("BECKON_DATA_FILE") {
        Some(path) => {
            if let Ok(file) = std::fs::File::open(path) {
                let _ = file.take(64 * 1024).read_to_end(&mut data);
            }
            "file"
        }
        None => {
            let _ = std::io::stdin().take(64 * 1024).read_to_end(&mut data);
            "stdin"
        }
    };
    let inviter = match var("BECKON_INVITER") {
        n if n.is_empty() => "unknown".to_owned(),
        n => n,
    };
    let tag = format!("[{app}]");
    say!(
        "        {tag} launched by Beckon: invited by {inviter} from {}",
        var("BECKON_ENDPOINT")
    );
    say!("        {tag} inviter key  {}", var("BECKON_INVITER_KEY"));
    say!("        {tag} fingerprint  {}", var("BECKON_FINGERPRINT"));
    say!("        {tag} application  {}", var("BECKON_APP"));
    say!(
        "        {tag} message      {}",
        quoted(&var("BECKON_MESSAGE"))
    );
    say!(
        "        {tag} data ({from})  {}",
        quoted(&String::from_utf8_lossy(&data))
    );
    Ok(exit::OK)
}
