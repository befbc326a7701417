//! Launching an accepted invitation's registered command.

use beckon_core::Response;
use beckon_desktop::store::DataMode;
use beckon_desktop::{failure_code, launch, launch_and_wait};
use beckon_testkit::{alice, CHESS};
use beckon_tokio::LaunchInfo;

#[tokio::test]
async fn the_launched_command_sees_the_environment_and_the_data_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("env");
    let stdin_file = dir.path().join("stdin");
    let info = info();
    let args = [
        "-c".to_string(),
        r#"env > "$1"; cat > "$2""#.to_string(),
        "sh".to_string(),
        env_file.display().to_string(),
        stdin_file.display().to_string(),
    ];
    let status = launch_and_wait("sh", &args, &info, Some("alice"), DataMode::Stdin)
        .await
        .unwrap();
    assert!(status.success());

    let env = std::fs::read_to_string(&env_file).unwrap();
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} not set in:\n{env}"))
            .to_string()
    };
    assert_eq!(var("BECKON_INVITER"), "alice");
    assert_eq!(
        var("BECKON_INVITER_KEY"),
        alice().public_key().to_openssh("").to_string()
    );
    assert!(var("BECKON_INVITER_KEY").starts_with("ssh-ed25519 AAAA"));
    assert_eq!(var("BECKON_FINGERPRINT"), info.fingerprint);
    assert_eq!(var("BECKON_APP"), "67e55044-10b1-426f-9247-bb680e5fe0c8");
    assert_eq!(var("BECKON_MESSAGE"), "A game?");
    assert_eq!(var("BECKON_ENDPOINT"), "[::1]:40001");
    assert_eq!(std::fs::read(&stdin_file).unwrap(), info.data);

    // A stranger has an empty nickname.
    let status = launch_and_wait("sh", &args, &info, None, DataMode::Stdin)
        .await
        .unwrap();
    assert!(status.success());
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert!(env.lines().any(|l| l == "BECKON_INVITER="));
}

/// Alice's chess invitation, from [::1]:40001, with binary data.
fn info() -> LaunchInfo {
    LaunchInfo {
        inviter: alice().public_key(),
        fingerprint: alice().public_key().fingerprint().to_string(),
        application: CHESS,
        message: "A game?".into(),
        data: b"board=standard\x00\xffbinary".to_vec(),
        endpoint: "[::1]:40001".parse().unwrap(),
    }
}

/// `sh -c SCRIPT sh OUT`: the script writes what it saw to OUT.
fn sh(script: &str, out: &std::path::Path) -> [String; 4] {
    [
        "-c".to_string(),
        script.to_string(),
        "sh".to_string(),
        out.display().to_string(),
    ]
}

#[tokio::test]
async fn with_data_file_the_data_is_in_a_private_file_removed_after_exit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let info = info();
    // The command records the file's name, mode and content, and whether
    // its stdin is the listener's (not a pipe of data).
    let args = sh(
        r#"echo "$BECKON_DATA_FILE" > "$1"; stat -c %a "$BECKON_DATA_FILE" >> "$1"; cp "$BECKON_DATA_FILE" "$1.data""#,
        &out,
    );
    let status = launch_and_wait("sh", &args, &info, None, DataMode::File)
        .await
        .unwrap();
    assert!(status.success());
    let seen = std::fs::read_to_string(&out).unwrap();
    let mut lines = seen.lines();
    let path = lines.next().unwrap();
    assert!(!path.is_empty(), "BECKON_DATA_FILE is set");
    assert_eq!(lines.next(), Some("600"), "mode 0600");
    assert_eq!(
        std::fs::read(dir.path().join("out.data")).unwrap(),
        info.data
    );
    assert!(
        !std::path::Path::new(path).exists(),
        "{path} removed after the command exited"
    );
}

#[tokio::test]
async fn with_data_none_nothing_is_passed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = sh(r#"echo "file=${BECKON_DATA_FILE-unset}" > "$1""#, &out);
    let status = launch_and_wait("sh", &args, &info(), None, DataMode::None)
        .await
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "file=unset\n");
}

#[tokio::test]
async fn a_launch_that_fails_says_which_error_answer_it_makes() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-program");
    let e = launch(
        missing.to_str().unwrap(),
        &[],
        &info(),
        None,
        DataMode::File,
    )
    .await
    .unwrap_err();
    assert_eq!(failure_code(&e), Response::ERROR_LAUNCH_NOT_FOUND);
    let plain = dir.path().join("not-executable");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    let e = launch(plain.to_str().unwrap(), &[], &info(), None, DataMode::File)
        .await
        .unwrap_err();
    assert_eq!(failure_code(&e), Response::ERROR_LAUNCH_DENIED);
}
