//! `beckon init`, `beckon id` and `beckon nickname`.

use std::path::PathBuf;

use beckon_core::Identity;
use clap::Args;

use super::{exit, CliResult};
use beckon_desktop::store::{check_name, Home, StoredIdentity, CARD_FILE, IDENTITY_FILE};

/// `beckon init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The nickname in your contact card (default: the imported key's
    /// comment, else your user name).
    #[arg(long, value_name = "N")]
    nickname: Option<String>,
    /// Import an existing OpenSSH ed25519 private key instead of creating
    /// one. A key with a passphrase stays encrypted with it; commands that
    /// need the key ask for it on the terminal, or read it from the file
    /// named by BECKON_PASSPHRASE_FILE (for services).
    #[arg(long, value_name = "PATH")]
    import_openssh: Option<PathBuf>,
    /// Replace an existing identity (your contacts will no longer know
    /// you).
    #[arg(long)]
    force: bool,
}

fn default_nickname() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join("_"))
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "beckon".to_owned())
}

/// A nickname made from text nobody chose as one (a key's comment, the
/// user name): every character a contact name may not have becomes `_`.
fn nickname_from(text: &str) -> String {
    let ok = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+');
    let name: String = text
        .trim()
        .chars()
        .map(|c| if ok(c) { c } else { '_' })
        .take(64)
        .collect();
    let name = name.trim_start_matches('-').to_owned();
    if name.is_empty() || name.eq_ignore_ascii_case("unknown") {
        "beckon".to_owned()
    } else {
        name
    }
}

/// `beckon nickname`.
#[derive(Debug, Args)]
pub(crate) struct NicknameArgs {
    /// The new nickname: what your contact card says, and the name your
    /// contacts see by default. Letters, digits and . _ - @ +, at most 64.
    nickname: String,
}

/// `beckon id`.
#[derive(Debug, Args)]
pub(crate) struct IdArgs {
    /// Print one JSON object: `{"nickname", "key" (ssh-ed25519 AAAA...,
    /// without comment), "fingerprint" (SHA256:...), "card" (the contact
    /// card line), "file" (the private key's path)}`.
    #[arg(long)]
    json: bool,
}

pub(crate) fn init(home: &Home, args: InitArgs) -> CliResult {
    let mut stored = match &args.import_openssh {
        Some(path) => StoredIdentity::from_openssh_file(path)?,
        None => StoredIdentity {
            identity: Identity::generate(&mut rand::rng()),
            nickname: String::new(),
            passphrase: None,
        },
    };
    stored.nickname = match args.nickname.as_deref() {
        Some(n) => {
            check_name("nickname", n)?;
            n.to_owned()
        }
        None if !stored.nickname.is_empty() => nickname_from(&stored.nickname),
        None => nickname_from(&default_nickname()),
    };
    if let Some(backup) = home.save_identity(&stored, args.force)? {
        println!(
            "the identity it replaces is kept in {} (move it back to undo)",
            backup.display()
        );
    }
    let verb = if args.import_openssh.is_some() {
        "imported"
    } else {
        "created"
    };
    println!(
        "{verb} identity {} in {}",
        stored.identity.public_key().fingerprint(),
        home.path(IDENTITY_FILE).display()
    );
    println!("your contact card (give it to your contacts; also in {CARD_FILE}):");
    println!("{}", stored.card());
    Ok(exit::OK)
}

pub(crate) fn id(home: &Home, args: &IdArgs) -> CliResult {
    let stored = home.load_identity()?;
    let key = stored.identity.public_key();
    if args.json {
        let object = serde_json::json!({
            "nickname": stored.nickname,
            "key": key.to_openssh("").to_string().trim_end(),
            "fingerprint": key.fingerprint().to_string(),
            "card": stored.card(),
            "file": home.path(IDENTITY_FILE).display().to_string(),
        });
        println!("{object}");
        return Ok(exit::OK);
    }
    println!("{}", stored.card());
    println!("{}", key.fingerprint());
    Ok(exit::OK)
}

pub(crate) fn nickname(home: &Home, args: &NicknameArgs) -> CliResult {
    let stored = home.set_nickname(&args.nickname)?;
    println!(
        "your nickname is now {} (same key, {}); your new card:",
        stored.nickname,
        stored.identity.public_key().fingerprint()
    );
    println!("{}", stored.card());
    Ok(exit::OK)
}
