//! Secret lifecycle through the CLI: values in and out byte for byte (stdin, `--file`,
//! `--out`), check-and-set writes, listing, history, soft delete, restore and destroy.

use crate::support::Server;

#[test]
fn put_from_stdin_then_get_prints_exactly_the_bytes() {
    let s = Server::start();
    let put = s
        .run_stdin(&["secret", "put", "OPS-1", "db-password"], b"s3cret\n")
        .ok();
    assert!(
        put.stderr().contains("stored OPS-1/db-password version 1"),
        "{}",
        put.stderr()
    );
    assert!(put.stdout().is_empty(), "put must keep stdout clean");
    // kind password: exactly one trailing newline is stripped, and get adds none (not a TTY).
    assert_eq!(
        s.run(&["secret", "get", "OPS-1", "db-password"])
            .ok()
            .out
            .stdout,
        b"s3cret"
    );

    // A note keeps its newlines exactly.
    let note = b"line one\nline two\n\n";
    s.run_stdin(
        &["secret", "put", "OPS-1", "runbook", "--kind", "note"],
        note,
    )
    .ok();
    assert_eq!(
        s.run(&["secret", "get", "OPS-1", "runbook"])
            .ok()
            .out
            .stdout,
        note
    );

    // --json shows the raw reveal answer.
    let json = s
        .run(&["--json", "secret", "get", "OPS-1", "db-password"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(v["value"], "czNjcmV0");
    assert_eq!(v["version"], 1);
}

#[test]
fn binary_file_roundtrips_through_put_file_and_get_out() {
    let s = Server::start();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let input = s.scratch("blob.bin");
    std::fs::write(&input, &bytes).unwrap();
    let put = s
        .run(&[
            "secret",
            "put",
            "OPS-2",
            "tls-bundle",
            "--file",
            input.to_str().unwrap(),
        ])
        .ok();
    assert!(put.stderr().contains("stored OPS-2/tls-bundle version 1"));

    let out = s.scratch("out.bin");
    s.run(&[
        "secret",
        "get",
        "OPS-2",
        "tls-bundle",
        "--out",
        out.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    #[cfg(unix)]
    crate::support::assert_mode_0600(&out);
    // And through stdout, byte for byte.
    assert_eq!(
        s.run(&["secret", "get", "OPS-2", "tls-bundle"])
            .ok()
            .out
            .stdout,
        bytes
    );

    let list = s.run(&["secret", "list", "OPS-2"]).ok().stdout();
    assert!(
        list.contains("tls-bundle") && list.contains("file"),
        "{list}"
    );
}

#[test]
fn expect_version_guards_concurrent_writes() {
    let s = Server::start();
    s.run_stdin(
        &["secret", "put", "OPS-3", "api-key", "--expect-version", "0"],
        b"one",
    )
    .ok();
    let conflict = s
        .run_stdin(
            &["secret", "put", "OPS-3", "api-key", "--expect-version", "0"],
            b"two",
        )
        .expect_code(1);
    let err = conflict.stderr();
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        err.contains("version"),
        "the conflict should mention the version: {err}"
    );
    let ok = s
        .run_stdin(
            &["secret", "put", "OPS-3", "api-key", "--expect-version", "1"],
            b"two",
        )
        .ok();
    assert!(ok.stderr().contains("version 2"), "{}", ok.stderr());
    assert_eq!(
        s.run(&["secret", "get", "OPS-3", "api-key"])
            .ok()
            .out
            .stdout,
        b"two"
    );
    assert_eq!(
        s.run(&["secret", "get", "OPS-3", "api-key", "--version", "1"])
            .ok()
            .out
            .stdout,
        b"one"
    );
}

#[test]
fn list_history_rm_restore_destroy() {
    let s = Server::start();
    s.run_stdin(&["secret", "put", "OPS-4", "db-password"], b"v1")
        .ok();
    s.run_stdin(&["secret", "put", "OPS-4", "db-password"], b"v2")
        .ok();
    s.run_stdin(&["secret", "put", "OPS", "shared"], b"p").ok();

    let list = s.run(&["secret", "list", "OPS-4"]).ok().stdout();
    assert!(list.starts_with("SCOPE"), "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("OPS-4") && l.contains("db-password") && l.contains(" 2 ")),
        "{list}"
    );
    let all = s.run(&["secret", "list"]).ok().stdout();
    assert!(
        all.contains("shared") && all.contains("db-password"),
        "{all}"
    );
    let prefixed = s.run(&["secret", "list", "--prefix", "sha"]).ok().stdout();
    assert!(
        prefixed.contains("shared") && !prefixed.contains("db-password"),
        "{prefixed}"
    );

    let history = s
        .run(&["secret", "history", "OPS-4", "db-password"])
        .ok()
        .stdout();
    let versions: Vec<&str> = history
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(versions, ["2", "1"], "{history}");

    s.run(&["secret", "rm", "OPS-4", "db-password"]).ok();
    s.run(&["secret", "get", "OPS-4", "db-password"])
        .expect_code(1);
    assert!(
        !s.run(&["secret", "list", "OPS-4"])
            .ok()
            .stdout()
            .contains("db-password")
    );
    let deleted = s
        .run(&["secret", "list", "OPS-4", "--deleted"])
        .ok()
        .stdout();
    assert!(
        deleted.contains("db-password") && deleted.contains("deleted"),
        "{deleted}"
    );

    s.run(&["secret", "restore", "OPS-4", "db-password"]).ok();
    assert_eq!(
        s.run(&["secret", "get", "OPS-4", "db-password"])
            .ok()
            .out
            .stdout,
        b"v2"
    );

    let refused = s
        .run(&["secret", "destroy", "OPS-4", "db-password"])
        .expect_code(2);
    assert!(refused.stderr().contains("--yes") && refused.stderr().contains("undone"));
    assert_eq!(
        s.run(&["secret", "get", "OPS-4", "db-password"])
            .ok()
            .out
            .stdout,
        b"v2"
    );

    s.run(&["secret", "destroy", "OPS-4", "db-password", "--yes"])
        .ok();
    let gone = s
        .run(&["secret", "get", "OPS-4", "db-password"])
        .expect_code(1);
    assert!(gone.stderr().contains("(not_found)"), "{}", gone.stderr());
    s.run(&["secret", "history", "OPS-4", "db-password"])
        .expect_code(1);
}

#[test]
fn client_side_put_seals_locally_and_reads_back_through_get() {
    let s = Server::start();
    let args = ["secret", "put", "--client-side", "OPS-9", "db-password"];
    let put = s.run_stdin(&args, b"s3cret\n").ok();
    assert!(
        put.stderr()
            .contains("stored OPS-9/db-password version 1 (sealed client-side)"),
        "{}",
        put.stderr()
    );
    assert!(put.stdout().is_empty(), "put must keep stdout clean");
    // Same value rules as a server-side put: one trailing newline stripped for a password.
    let get = s.run(&["secret", "get", "OPS-9", "db-password"]).ok();
    assert_eq!(get.out.stdout, b"s3cret");

    // Binary, check-and-set, --json: the commit's answer is the secret at its new version.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(5_000).collect();
    let input = s.scratch("key.bin");
    std::fs::write(&input, &bytes).unwrap();
    let stale = s
        .run(&[
            "secret",
            "put",
            "--client-side",
            "OPS-9",
            "db-password",
            "--expect-version",
            "0",
            "--file",
            input.to_str().unwrap(),
        ])
        .expect_code(1);
    assert!(stale.stderr().contains("version"), "{}", stale.stderr());
    let json = s
        .run(&[
            "--json",
            "secret",
            "put",
            "--client-side",
            "OPS-9",
            "db-password",
            "--expect-version",
            "1",
            "--file",
            input.to_str().unwrap(),
        ])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert_eq!(v["version"], 2, "{v}");
    assert_eq!(v["kind"], "file");
    let out = s.scratch("out.bin");
    s.run(&[
        "secret",
        "get",
        "OPS-9",
        "db-password",
        "--out",
        out.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(std::fs::read(&out).unwrap(), bytes);

    // The kind's value rules hold on this path too (the server checks them again at commit).
    let bad = s
        .run_stdin(
            &[
                "secret",
                "put",
                "--client-side",
                "OPS-9",
                "conf",
                "--kind",
                "kv",
            ],
            b"not json",
        )
        .expect_code(1);
    assert!(bad.stderr().contains("kv value"), "{}", bad.stderr());
    s.run(&["secret", "get", "OPS-9", "conf"]).expect_code(1);
}
