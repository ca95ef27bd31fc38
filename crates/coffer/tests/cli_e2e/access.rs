//! Access and everything around secrets: org/user/token management and tenant isolation,
//! `coffer run`'s environment, the audit trail, whoami, and the bad-token hint.

use crate::support::{self, Server};

#[test]
fn a_token_of_another_org_cannot_see_the_first_orgs_secrets() {
    let s = Server::start();
    s.run_stdin(&["secret", "put", "OPS-5", "db-password"], b"default-only")
        .ok();

    // The operator creates the org and invites bob as its owner; bob accepts with the CLI and
    // chooses his password; then he mints a second token of his own.
    let code = s
        .run_as_operator(&[
            "org",
            "create",
            "beta",
            "--name",
            "Beta Inc",
            "--location",
            "eu",
            "--owner",
            "bob",
        ])
        .ok();
    let code = code.stdout().trim().to_owned();
    assert!(code.starts_with("coffer_i_"), "{code}");
    let orgs = s.run_as_operator(&["org", "list"]).ok().stdout();
    assert!(orgs.contains("beta") && orgs.contains("default"), "{orgs}");
    let accepted = support::run(
        s.cmd_without_token(".").args(["invite", "accept", &code]),
        b"bob's long passphrase\n",
    )
    .ok();
    assert!(
        accepted.stderr().contains("joined org beta as owner"),
        "{}",
        accepted.stderr()
    );
    let first = accepted.stdout().trim().to_owned();
    let again = support::run(
        s.cmd_without_token(".").args(["invite", "accept", &code]),
        b"bob's long passphrase\n",
    )
    .expect_code(1);
    assert!(
        again.stderr().contains("already used"),
        "{}",
        again.stderr()
    );
    let users = support::run(
        s.cmd_with_token(&first)
            .args(["--org", "beta", "user", "list"]),
        b"",
    )
    .ok()
    .stdout();
    assert!(users.contains("bob") && users.contains("owner"), "{users}");

    let created = support::run(
        s.cmd_with_token(&first)
            .args(["--org", "beta", "token", "create", "--name", "ci"]),
        b"",
    )
    .ok();
    let stdout = created.stdout();
    assert_eq!(
        stdout.lines().count(),
        1,
        "stdout must be the token alone: {stdout:?}"
    );
    let bob = stdout.trim().to_owned();
    assert!(!bob.is_empty());
    assert!(
        !created.stderr().contains(&bob),
        "the token must not be repeated on stderr"
    );
    assert!(
        !support::run(
            s.cmd_with_token(&bob)
                .args(["--org", "beta", "token", "list"]),
            b""
        )
        .ok()
        .stdout()
        .contains(&bob)
    );

    let who = support::run(s.cmd_with_token(&bob).arg("whoami"), b"")
        .ok()
        .stdout();
    assert!(who.contains("bob") && who.contains("beta"), "{who}");

    // Bob reaches neither the secret nor the org it lives in.
    let denied = support::run(
        s.cmd_with_token(&bob)
            .args(["secret", "get", "OPS-5", "db-password"]),
        b"",
    )
    .expect_code(1);
    assert!(denied.out.stdout.is_empty());
    assert!(denied.stderr().contains("not_found"), "{}", denied.stderr());

    // Bob's own org works.
    support::run(
        s.cmd_with_token(&bob)
            .args(["--org", "beta", "secret", "put", "BETA-1", "k"]),
        b"b",
    )
    .ok();
    let mine = support::run(
        s.cmd_with_token(&bob)
            .args(["--org", "beta", "secret", "get", "BETA-1", "k"]),
        b"",
    );
    assert_eq!(mine.ok().out.stdout, b"b");
}

#[test]
fn run_exports_the_issues_secrets_as_environment_variables() {
    let s = Server::start();
    s.run_stdin(&["secret", "put", "OPS-6", "db-password"], b"pa ss\n")
        .ok();
    s.run_stdin(
        &["secret", "put", "OPS-6", "creds", "--kind", "kv"],
        br#"{"api-user":"app","api.pass":"x y"}"#,
    )
    .ok();
    let blob = s.scratch("bin");
    std::fs::write(&blob, [0xff, 0xfe, 0x00]).unwrap();
    s.run(&[
        "secret",
        "put",
        "OPS-6",
        "cert",
        "--file",
        blob.to_str().unwrap(),
    ])
    .ok();
    s.run_stdin(&["secret", "put", "OPS", "shared-key"], b"proj")
        .ok();
    s.run_stdin(
        &["secret", "put", "OPS-6", "handover", "--view-limit", "1"],
        b"once",
    )
    .ok();

    let r = s
        .run(&[
            "run",
            "--issue",
            "OPS-6",
            "--",
            "sh",
            "-c",
            r#"printf %s "$DB_PASSWORD""#,
        ])
        .ok();
    assert_eq!(r.out.stdout, b"pa ss");
    assert!(r.stderr().contains("skipping OPS-6/cert"), "{}", r.stderr());
    assert!(r.stderr().contains("view limit"), "{}", r.stderr());
    let once = s.run(&["secret", "get", "OPS-6", "handover"]);
    assert_eq!(once.ok().stdout(), "once", "run did not spend the one view");

    let kv = s.run(&[
        "run",
        "--issue",
        "OPS-6",
        "--",
        "sh",
        "-c",
        r#"printf '%s|%s' "$CREDS_API_USER" "$CREDS_API_PASS""#,
    ]);
    assert_eq!(kv.ok().stdout(), "app|x y");

    let without = s.run(&[
        "run",
        "--issue",
        "OPS-6",
        "--",
        "sh",
        "-c",
        r#"printf %s "${SHARED_KEY-unset}""#,
    ]);
    assert_eq!(without.ok().stdout(), "unset");
    let with = s.run(&[
        "run",
        "--issue",
        "OPS-6",
        "--project",
        "--",
        "sh",
        "-c",
        r#"printf %s "$SHARED_KEY""#,
    ]);
    assert_eq!(with.ok().stdout(), "proj");

    // The child's exit code is ours.
    s.run(&["run", "--issue", "OPS-6", "--", "sh", "-c", "exit 7"])
        .expect_code(7);
}

#[test]
fn audit_trail_lists_events_and_verifies() {
    let s = Server::start();
    s.run_stdin(&["secret", "put", "OPS-7", "k"], b"v").ok();
    s.run(&["secret", "get", "OPS-7", "k"]).ok();
    let verify = s.run(&["audit", "verify"]).ok();
    assert!(!verify.stdout().trim().is_empty());

    let json = s.run(&["--json", "audit", "list"]).ok().stdout();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let events = v["events"].as_array().unwrap();
    assert!(events.len() >= 2, "{json}");
    assert!(
        !json.contains("\"v\""),
        "audit events must not carry values"
    );
    let table = s.run(&["audit", "list", "--limit", "1"]).ok().stdout();
    assert_eq!(table.lines().count(), 2, "{table}");
}

#[test]
fn bad_token_and_whoami() {
    let s = Server::start();
    let who = s.run(&["whoami"]).ok().stdout();
    assert!(who.contains("admin") && who.contains("default"), "{who}");
    let rotated = s.run(&["org", "rotate-key"]).ok().stdout();
    assert!(
        rotated.starts_with("org key rotated: version 2 (was 1)"),
        "{rotated}"
    );

    let bad = support::run(s.cmd_with_token("not-a-real-token").arg("whoami"), b"").expect_code(1);
    assert!(bad.stderr().starts_with("error: "), "{}", bad.stderr());
    assert!(
        bad.stderr().contains("hint: check COFFER_TOKEN"),
        "{}",
        bad.stderr()
    );
    assert!(!bad.stderr().contains("not-a-real-token"));

    // Without COFFER_TOKEN the token file of a server started in the cwd is used…
    let implicit = support::run(s.cmd_without_token(".").arg("whoami"), b"");
    assert!(implicit.ok().stdout().contains("admin"));
    // …and elsewhere the request goes out without one, and the hint says so.
    std::fs::create_dir(s.scratch("elsewhere")).unwrap();
    let none = support::run(s.cmd_without_token("elsewhere").arg("whoami"), b"").expect_code(1);
    assert!(
        none.stderr().contains("hint: no token was sent"),
        "{}",
        none.stderr()
    );
}

/// A second `coffer serve` on a data directory that a running server uses is refused, with a
/// message naming the fix, and leaves the first one serving (the SQLite catalog's read cache
/// relies on being the file's only writer).
#[test]
fn a_second_server_on_the_same_data_directory_is_refused() {
    let s = Server::start();
    let second = support::run(
        s.cmd_without_token(".").args([
            "serve",
            "--data-dir",
            s.scratch("coffer-data").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ]),
        b"",
    );
    assert_ne!(second.code(), 0, "a second server started");
    assert!(
        second.stderr().contains("in use by another coffer process")
            && second.stderr().contains("--data-dir"),
        "{}",
        second.stderr()
    );
    assert!(s.run(&["whoami"]).ok().stdout().contains("admin"));
}

/// Members, service accounts and credentials, as an owner, a member and the operator would use
/// the CLI.
#[test]
fn members_service_accounts_and_credentials_from_the_cli() {
    let s = Server::start();
    let carol = s.invite_and_accept(&s.token, "default", "carol", "member", "carol's passphrase");
    let users = s.run(&["user", "list"]).ok().stdout();
    assert!(
        users
            .lines()
            .any(|l| l.starts_with("carol") && l.contains("person") && l.contains("member")),
        "{users}"
    );
    s.run(&["user", "role", "carol", "admin"]).ok();
    let as_carol =
        |args: &[&str], stdin: &[u8]| support::run(s.cmd_with_token(&carol).args(args), stdin);
    // carol, now an admin, cannot make anyone an owner.
    let up = as_carol(&["user", "role", "admin", "member"], b"").expect_code(1);
    assert!(up.stderr().contains("forbidden"), "{}", up.stderr());

    s.run(&["service-account", "create", "ci", "--role", "member"])
        .ok();
    // A member sees only what it is granted: write on the OPS project.
    s.run(&["grant", "add", "OPS", "svc:ci", "--level", "write"])
        .ok();
    let ci = s
        .run(&[
            "token",
            "create",
            "--service-account",
            "ci",
            "--name",
            "pipeline",
        ])
        .ok()
        .stdout();
    let who = support::run(s.cmd_with_token(ci.trim()).arg("whoami"), b"")
        .ok()
        .stdout();
    assert!(
        who.contains("ci (service) in org default (role member"),
        "{who}"
    );
    support::run(
        s.cmd_with_token(ci.trim())
            .args(["secret", "put", "OPS-9", "k"]),
        b"from ci",
    )
    .ok();

    // carol changes her password: the current one is asked for (the next line of stdin).
    as_carol(
        &["passwd"],
        b"carol's second passphrase\ncarol's passphrase\n",
    )
    .ok();
    let wrong = as_carol(&["passwd"], b"carol's third passphrase\nnot it at all\n").expect_code(1);
    assert!(
        wrong.stderr().contains("current password is wrong"),
        "{}",
        wrong.stderr()
    );

    // The operator resets carol: her token stops at once; the code gives her a new one, once.
    let code = s.run_as_operator(&["user", "reset", "carol"]).ok().stdout();
    as_carol(&["whoami"], b"").expect_code(1);
    let redeem = |stdin: &[u8]| {
        support::run(
            s.cmd_without_token(".").args([
                "passwd",
                "--reset-code",
                code.trim(),
                "--token-for",
                "default",
            ]),
            stdin,
        )
    };
    let fresh = redeem(b"carol's fresh passphrase\n").ok().stdout();
    let who = support::run(s.cmd_with_token(fresh.trim()).arg("whoami"), b"")
        .ok()
        .stdout();
    assert!(who.contains("carol (person) in org default"), "{who}");
    redeem(b"carol's fresh passphrase\n").expect_code(1);

    s.run(&["user", "rm", "carol"]).ok();
    support::run(s.cmd_with_token(fresh.trim()).arg("whoami"), b"").expect_code(1);
    s.run(&["service-account", "rm", "ci"]).ok();
    support::run(s.cmd_with_token(ci.trim()).arg("whoami"), b"").expect_code(1);
}

/// Groups, grants and shares from the CLI: a group's share reaches its member and no one else,
/// `secret access` says who and why, and a restricted secret leaves the owner's reach.
#[test]
fn groups_grants_and_shares_from_the_cli() {
    let s = Server::start();
    let carol = s.invite_and_accept(&s.token, "default", "carol", "member", "carol's passphrase");
    let dave = s.invite_and_accept(&s.token, "default", "dave", "member", "dave's passphrase");
    s.run_stdin(&["secret", "put", "OPS-1", "db"], b"hunter2")
        .ok();
    let as_ = |token: &str, args: &[&str]| support::run(s.cmd_with_token(token).args(args), b"");

    s.run(&["group", "create", "dba"]).ok();
    s.run(&["group", "add", "dba", "carol"]).ok();
    let groups = s.run(&["group", "list"]).ok().stdout();
    assert!(
        groups.contains("dba") && groups.contains("user:carol"),
        "{groups}"
    );
    s.run(&[
        "secret",
        "share",
        "OPS-1",
        "db",
        "--with",
        "group:dba",
        "--level",
        "read",
    ])
    .ok();
    assert_eq!(
        as_(&carol, &["secret", "get", "OPS-1", "db"]).ok().stdout(),
        "hunter2"
    );
    let denied = as_(&dave, &["secret", "get", "OPS-1", "db"]).expect_code(1);
    assert!(denied.stderr().contains("no secret"), "{}", denied.stderr());
    assert!(
        !as_(&dave, &["secret", "list"]).ok().stdout().contains("db"),
        "dave sees the name"
    );

    let access = s.run(&["secret", "access", "OPS-1", "db"]).ok().stdout();
    assert!(
        access
            .lines()
            .any(|l| l.contains("user:carol") && l.contains("share read via group:dba")),
        "{access}"
    );
    assert!(!access.contains("user:dave"), "{access}");
    // Who did what with it: its events only.
    let trail = s
        .run(&["audit", "list", "--secret", "OPS-1/db"])
        .ok()
        .stdout();
    for action in ["secret.write", "secret.share", "secret.reveal"] {
        assert!(trail.contains(action), "{action}: {trail}");
    }
    assert!(
        trail.lines().skip(1).all(|l| l.contains("OPS-1/db")),
        "only OPS-1/db's events: {trail}"
    );
    assert!(trail.contains("carol"), "carol's reveal: {trail}");

    s.run(&["grant", "add", "OPS", "user:dave", "--level", "write"])
        .ok();
    let grants = s.run(&["grant", "list"]).ok().stdout();
    assert!(
        grants.contains("user:dave") && grants.contains("write"),
        "{grants}"
    );
    as_(&dave, &["secret", "get", "OPS-1", "db"]).ok();

    // A restricted secret: only its shares reach it, the owner's role does not.
    support::run(
        s.cmd_with_token(&dave)
            .args(["secret", "put", "OPS-1", "root", "--restricted"]),
        b"toor",
    )
    .ok();
    let owner = s.run(&["secret", "get", "OPS-1", "root"]).expect_code(1);
    assert!(owner.stderr().contains("no secret"), "{}", owner.stderr());
    assert_eq!(
        as_(&dave, &["secret", "get", "OPS-1", "root"])
            .ok()
            .stdout(),
        "toor"
    );
    let json = as_(&dave, &["--json", "secret", "access", "OPS-1", "root"])
        .ok()
        .stdout();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["restricted"], true, "{json}");
    assert_eq!(v["entries"].as_array().unwrap().len(), 1, "{json}");
}
