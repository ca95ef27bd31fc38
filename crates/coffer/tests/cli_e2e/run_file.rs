//! `coffer run --format dotenv|json --out FILE -- CMD` against a real server: the command reads
//! the issue's secrets from FILE (mode 0600 while it runs), FILE is gone once it exits — after a
//! failure, a missing command and a SIGTERM too — and an existing file is never taken over.

use crate::support::Server;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn setup() -> Server {
    let s = Server::start();
    s.run_stdin(&["secret", "put", "OPS-5", "db-password"], b"pa ss \"q\"")
        .ok();
    s.run_stdin(
        &["secret", "put", "OPS-5", "creds", "--kind", "kv"],
        br#"{"user":"app"}"#,
    )
    .ok();
    s
}

/// `sh -c SCRIPT sh FILE`: the script sees the file as `$1`.
fn sh<'a>(script: &'a str, file: &'a str) -> [&'a str; 5] {
    ["sh", "-c", script, "sh", file]
}

#[test]
fn the_command_reads_a_0600_dotenv_file_that_is_deleted_afterwards() {
    let s = setup();
    let out = s.scratch("ops-5.env");
    let path = out.to_str().unwrap();
    let mut args = vec![
        "run", "--issue", "OPS-5", "--format", "dotenv", "--out", path, "--",
    ];
    args.extend(sh(
        r#"stat -c 'mode %a' "$1"; cat "$1"; printf 'env %s\n' "${DB_PASSWORD-unset}""#,
        path,
    ));
    let r = s.run(&args).ok();
    assert_eq!(
        r.stdout(),
        "mode 600\nCREDS_USER=\"app\"\nDB_PASSWORD=\"pa ss \\\"q\\\"\"\nenv unset\n"
    );
    assert!(!out.exists(), "the file outlived the command");
    assert!(
        r.stderr().contains("deleted when the command exits"),
        "{}",
        r.stderr()
    );
    assert!(!r.stderr().contains("pa ss"), "a value reached stderr");

    // JSON, with the same names; the command's exit code is coffer's, and the file goes anyway.
    let mut args = vec![
        "run", "--issue", "OPS-5", "--format", "json", "--out", path, "--",
    ];
    args.extend(sh(r#"cat "$1"; exit 3"#, path));
    let r = s.run(&args).expect_code(3);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"CREDS_USER": "app", "DB_PASSWORD": "pa ss \"q\""})
    );
    assert!(!out.exists());

    // A command that cannot be found: 127, and no file left.
    let r = s
        .run(&[
            "run",
            "--issue",
            "OPS-5",
            "--format",
            "dotenv",
            "--out",
            path,
            "--",
            "no-such-command-here",
        ])
        .expect_code(127);
    assert!(
        r.stderr().contains("cannot run no-such-command-here"),
        "{}",
        r.stderr()
    );
    assert!(!out.exists());
}

#[test]
fn an_existing_file_is_refused_and_kept_and_a_missing_command_points_at_export() {
    let s = setup();
    let out = s.scratch("mine.env");
    std::fs::write(&out, "MINE=1\n").unwrap();
    let path = out.to_str().unwrap();
    let r = s
        .run(&[
            "run", "--issue", "OPS-5", "--format", "dotenv", "--out", path, "--", "true",
        ])
        .expect_code(2);
    assert!(r.stderr().contains("exists already"), "{}", r.stderr());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "MINE=1\n");
    // Refused before any reveal: the audit trail has none.
    let audit = s
        .run(&["audit", "list", "--action", "secret.reveal"])
        .ok()
        .stdout();
    assert!(!audit.contains("OPS-5"), "{audit}");

    let r = s
        .run(&[
            "run",
            "--issue",
            "OPS-5",
            "--format",
            "dotenv",
            "--out",
            "never.env",
        ])
        .expect_code(2);
    assert!(
        r.stderr().contains("coffer export --issue OPS-5"),
        "{}",
        r.stderr()
    );
    assert!(!s.scratch("never.env").exists());
}

#[test]
fn sigterm_reaches_the_command_and_the_file_is_still_deleted() {
    let s = setup();
    let out = s.scratch("term.env");
    let ready = s.scratch("ready");
    let path = out.to_str().unwrap();
    let script = format!(
        r#"trap 'echo got TERM; exit 5' TERM; touch '{}'; while :; do sleep 0.1; done"#,
        ready.display()
    );
    let mut child = s
        .cmd()
        .args([
            "run", "--issue", "OPS-5", "--format", "dotenv", "--out", path, "--", "sh", "-c",
            &script,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(out.exists(), "the file is there while the command runs");
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert_eq!(status.code(), Some(5), "stdout: {stdout}");
    assert_eq!(stdout, "got TERM\n");
    assert!(!out.exists(), "the file outlived a SIGTERM");
}
