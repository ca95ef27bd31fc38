//! `coffer import` and `coffer export` against a real server: each sample file of
//! tests/import/ lands as secrets with the right values, a bad file or `--dry-run` writes nothing,
//! and an export imports back to the same values (docs/import-export.md).

use crate::support::Server;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/import");

fn sample(name: &str) -> String {
    format!("{SAMPLES}/{name}")
}

#[track_caller]
fn get(s: &Server, scope: &str, name: &str) -> String {
    s.run(&["secret", "get", scope, name]).ok().stdout()
}

#[track_caller]
fn names(s: &Server, scope: &str) -> Vec<String> {
    let out = s.run(&["--json", "secret", "list", scope]).ok().stdout();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn each_sample_imports_with_its_values() {
    let s = Server::start();

    let env = sample("sample.env");
    let run = s
        .run(&["import", "--from", "dotenv", &env, "--issue", "OPS-1"])
        .ok();
    let err = run.stderr();
    assert!(err.contains("OPS-1/db-password: created (line 4)"), "{err}");
    assert!(
        err.contains("imported 11 of 11 secret(s) into OPS-1"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2") && !run.stdout().contains("hunter2"),
        "values never printed"
    );
    assert_eq!(get(&s, "OPS-1", "db-password"), "hunter2");
    assert_eq!(get(&s, "OPS-1", "api-token"), "tok_live_51Hx");
    assert_eq!(
        get(&s, "OPS-1", "double-quoted"),
        "tab\there \"quoted\" back\\slash $HOME"
    );
    assert_eq!(
        get(&s, "OPS-1", "multi-line"),
        "-----BEGIN KEY-----\nabc\n-----END KEY-----"
    );
    assert_eq!(get(&s, "OPS-1", "crlf"), "windows");

    // Again: every entry becomes a new version.
    let again = s
        .run(&["import", "--from", "dotenv", &env, "--issue", "OPS-1"])
        .ok();
    assert!(
        again
            .stderr()
            .contains("OPS-1/db-password: new version 2 (line 4)"),
        "{}",
        again.stderr()
    );

    s.run(&[
        "import",
        "--from",
        "json",
        &sample("sample.json"),
        "--issue",
        "OPS-2",
    ])
    .ok();
    assert_eq!(
        get(&s, "OPS-2", "aws-secret-access-key"),
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    );

    s.run(&[
        "import",
        "--from",
        "vault-kv",
        &sample("vault-kv-v2.json"),
        "--issue",
        "OPS-3",
    ])
    .ok();
    assert_eq!(get(&s, "OPS-3", "db-password"), "Zx9-vault-pw");
    assert_eq!(get(&s, "OPS-3", "db-user"), "app");
    s.run(&[
        "import",
        "--from",
        "vault-kv",
        &sample("vault-kv-v1.json"),
        "--issue",
        "OPS-3",
    ])
    .ok();
    assert_eq!(get(&s, "OPS-3", "api-key"), "v1-key-123");

    let bw = s
        .run(&[
            "import",
            "--from",
            "bitwarden-json",
            &sample("bitwarden.json"),
            "--issue",
            "OPS-4",
        ])
        .ok();
    assert!(
        bw.stderr()
            .contains("skipped item \"Company Visa\" (items[4]): cards are not imported"),
        "{}",
        bw.stderr()
    );
    assert_eq!(get(&s, "OPS-4", "github-deploy"), "ghp-Sd8f7Gh2kL");
    assert_eq!(get(&s, "OPS-4", "prod-db"), "Pg!pr0d#2024");
    assert_eq!(get(&s, "OPS-4", "recovery-codes"), "1111-2222\n3333-4444");
    let list = s.run(&["--json", "secret", "list", "OPS-4"]).ok().stdout();
    let v: serde_json::Value = serde_json::from_str(&list).unwrap();
    let kind = |n: &str| {
        v["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == n)
            .unwrap()["kind"]
            .clone()
    };
    assert_eq!(kind("recovery-codes"), "note");
    assert_eq!(kind("prod-db"), "password");
}

#[test]
fn a_bad_file_or_a_dry_run_writes_nothing() {
    let s = Server::start();
    let bad = s.scratch("bad.env");
    std::fs::write(&bad, "GOOD=one\nALSO_GOOD=two\nthis line is wrong\n").unwrap();
    let run = s
        .run(&[
            "import",
            "--from",
            "dotenv",
            bad.to_str().unwrap(),
            "--issue",
            "OPS-5",
        ])
        .expect_code(1);
    assert!(
        run.stderr().contains("line 3: expected KEY=value"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("nothing was written"),
        "{}",
        run.stderr()
    );
    assert!(names(&s, "OPS-5").is_empty());

    // Two keys mapping to one name, from stdin.
    let run = s
        .run_stdin(
            &["import", "--from", "dotenv", "-", "--issue", "OPS-5"],
            b"DB_PASSWORD=a\ndb-password=b\n",
        )
        .expect_code(1);
    assert!(run.stderr().contains("line 2: "), "{}", run.stderr());
    assert!(names(&s, "OPS-5").is_empty());

    let run = s
        .run_stdin(
            &[
                "import",
                "--from",
                "bitwarden-json",
                "-",
                "--issue",
                "OPS-5",
            ],
            br#"{"encrypted": true, "items": []}"#,
        )
        .expect_code(1);
    assert!(
        run.stderr().contains("encrypted Bitwarden export"),
        "{}",
        run.stderr()
    );

    let dry = s
        .run(&[
            "import",
            "--from",
            "dotenv",
            &sample("sample.env"),
            "--issue",
            "OPS-5",
            "--dry-run",
        ])
        .ok();
    assert!(
        dry.stdout()
            .contains("would write OPS-5/db-password (password, from line 4)"),
        "{}",
        dry.stdout()
    );
    assert!(!dry.stdout().contains("hunter2"));
    assert!(names(&s, "OPS-5").is_empty());
}

#[test]
fn export_roundtrips_through_import() {
    let s = Server::start();
    s.run(&[
        "import",
        "--from",
        "dotenv",
        &sample("sample.env"),
        "--issue",
        "OPS-1",
    ])
    .ok();
    s.run_stdin(
        &["secret", "put", "OPS-1", "blob", "--kind", "file"],
        &[0, 159, 146, 150],
    )
    .ok();

    for (format, from) in [("dotenv", "dotenv"), ("json", "json")] {
        let out = s
            .run(&["export", "--issue", "OPS-1", "--format", format])
            .ok();
        assert!(
            out.stderr().contains("skipping OPS-1/blob: a file secret"),
            "{}",
            out.stderr()
        );
        let target = if format == "dotenv" { "OPS-7" } else { "OPS-8" };
        s.run_stdin(
            &["import", "--from", from, "-", "--issue", target],
            &out.out.stdout,
        )
        .ok();
        let mut original = names(&s, "OPS-1");
        original.retain(|n| n != "blob");
        assert_eq!(names(&s, target), original);
        for name in &original {
            assert_eq!(get(&s, target, name), get(&s, "OPS-1", name), "{name}");
        }
        let again = s
            .run(&["export", "--issue", target, "--format", format])
            .ok();
        assert_eq!(again.stdout(), out.stdout());
    }
    let dotenv = s
        .run(&["export", "--issue", "OPS-1", "--format", "dotenv"])
        .ok()
        .stdout();
    assert!(dotenv.contains("DB_PASSWORD=\"hunter2\"\n"), "{dotenv}");
    assert!(
        dotenv.contains("DOUBLE_QUOTED=\"tab\\there \\\"quoted\\\" back\\\\slash \\$HOME\"\n"),
        "{dotenv}"
    );
}

#[test]
fn failed_writes_are_reported_per_entry_and_exit_non_zero() {
    let s = Server::start();
    // A member without grants may not write to OPS-6.
    let carol = s.invite_and_accept(&s.token, "default", "carol", "member", "carol's passphrase");
    let run = crate::support::run(
        s.cmd_with_token(&carol).args([
            "import",
            "--from",
            "json",
            &sample("sample.json"),
            "--issue",
            "OPS-6",
        ]),
        b"",
    )
    .expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains("OPS-6/stripe-key: failed: ")
            && err.contains("(key \"STRIPE_KEY\" ($.STRIPE_KEY))"),
        "{err}"
    );
    assert!(
        err.contains("imported 0 of 3 secret(s) into OPS-6; 3 failed"),
        "{err}"
    );
    assert!(names(&s, "OPS-6").is_empty());
}
