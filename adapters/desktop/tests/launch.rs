//! Launching an accepted invitation's registered command.

use beckon_core::{ApplicationId, Identity};
use beckon_desktop::launch_and_wait;
use beckon_tokio::LaunchInfo;

fn alice() -> Identity {
    Identity::from_seed(&[1; 32])
}

fn chess() -> ApplicationId {
    "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap()
}

#[tokio::test]
async fn the_launched_command_sees_the_environment_and_the_data_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("env");
    let stdin_file = dir.path().join("stdin");
    let info = LaunchInfo {
        inviter: alice().public_key(),
        fingerprint: alice().public_key().fingerprint().to_string(),
        application: chess(),
        message: "A game?".into(),
        data: b"board=standard\x00\xffbinary".to_vec(),
        endpoint: "[::1]:40001".parse().unwrap(),
    };
    let args = [
        "-c".to_string(),
        r#"env > "$1"; cat > "$2""#.to_string(),
        "sh".to_string(),
        env_file.display().to_string(),
        stdin_file.display().to_string(),
    ];
    let status = launch_and_wait("sh", &args, &info, Some("alice"))
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
    let status = launch_and_wait("sh", &args, &info, None).await.unwrap();
    assert!(status.success());
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert!(env.lines().any(|l| l == "BECKON_INVITER="));
}
