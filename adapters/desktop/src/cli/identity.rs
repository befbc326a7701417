//! `beckon init` and `beckon id`.

use std::path::PathBuf;

use beckon_core::Identity;
use clap::Args;

use super::{exit, CliError, CliResult};
use beckon_desktop::store::{Home, StoredIdentity, CARD_FILE, IDENTITY_FILE};

/// `beckon init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The nickname in your contact card (default: the imported key's
    /// comment, else your user name).
    #[arg(long, value_name = "N")]
    nickname: Option<String>,
    /// Import an existing unencrypted OpenSSH ed25519 private key instead
    /// of creating one.
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

fn check_nickname(nickname: &str) -> Result<String, CliError> {
    let nickname = nickname.split_whitespace().collect::<Vec<_>>().join(" ");
    if nickname.is_empty() {
        return Err(CliError::usage("the nickname is empty"));
    }
    if nickname.chars().count() > 64 {
        return Err(CliError::usage("the nickname is longer than 64 characters"));
    }
    Ok(nickname)
}

pub(crate) fn init(home: &Home, args: InitArgs) -> CliResult {
    let mut stored = match &args.import_openssh {
        Some(path) => StoredIdentity::from_openssh_file(path)?,
        None => StoredIdentity {
            identity: Identity::generate(&mut rand::rng()),
            nickname: String::new(),
        },
    };
    stored.nickname = match args.nickname.as_deref() {
        Some(n) => check_nickname(n)?,
        None if !stored.nickname.is_empty() => check_nickname(&stored.nickname)?,
        None => check_nickname(&default_nickname())?,
    };
    home.save_identity(&stored, args.force)?;
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

pub(crate) fn id(home: &Home) -> CliResult {
    let stored = home.load_identity()?;
    println!("{}", stored.card());
    println!("{}", stored.identity.public_key().fingerprint());
    Ok(exit::OK)
}
