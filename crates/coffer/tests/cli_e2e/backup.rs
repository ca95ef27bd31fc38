//! `coffer backup` and `coffer restore` end to end: secrets of every kind in two orgs, a backup
//! taken while another client keeps writing, a restore into a new directory, and a server on it
//! that reveals every secret acknowledged before the backup began, byte for byte, with intact
//! audit chains. And what must be refused: an existing output file, a non-empty target, an
//! altered archive, a wrong passphrase, anyone but the operator.

use crate::support::{Run, Server, assert_mode_0600, run};
use age::secrecy::ExposeSecret;
use base64::Engine as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One secret as a test wrote it: whose token, org, scope, name, exact bytes.
struct Written {
    token: String,
    org: &'static str,
    scope: String,
    name: String,
    value: Vec<u8>,
}

fn put(s: &Server, token: &str, org: &str, args: &[&str], value: &[u8]) -> Run {
    run(
        s.cmd_with_token(token)
            .args(["--org", org, "secret", "put"])
            .args(args),
        value,
    )
}

/// The exact bytes of the current version, through `--json` (so every kind compares alike).
fn reveal(s: &Server, token: &str, org: &str, scope: &str, name: &str) -> Vec<u8> {
    let out = run(
        s.cmd_with_token(token)
            .args(["--json", "--org", org, "secret", "get", scope, name]),
        b"",
    )
    .ok()
    .stdout();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(v["value"].as_str().unwrap())
        .unwrap()
}

/// A post-quantum age identity file in `dir` (as `age-keygen -pq` makes); returns it and its
/// recipient (`age1pq1…`).
fn identity(dir: &Path) -> (std::path::PathBuf, String) {
    let id = age::pq::Identity::generate();
    let file = dir.join("backup-key.txt");
    std::fs::write(&file, format!("{}\n", id.to_string().expose_secret())).unwrap();
    (file, id.to_public().to_string())
}

/// A classic X25519 age identity file in `dir` (as `age-keygen` made before age 1.3); returns it
/// and its recipient (`age1…`).
fn classic_identity(dir: &Path) -> (std::path::PathBuf, String) {
    #[allow(deprecated)]
    let id = age::x25519::Identity::generate();
    let file = dir.join("classic-key.txt");
    std::fs::write(&file, format!("{}\n", id.to_string().expose_secret())).unwrap();
    (file, id.to_public().to_string())
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_backup_under_load_restores_every_acknowledged_secret() {
    let s = Server::start();
    let bob = s.org_with_owner("beta", &[], "bob");
    let mut written = Vec::new();
    let write = |written: &mut Vec<Written>,
                 token: &str,
                 org: &'static str,
                 args: &[&str],
                 value: &[u8]| {
        put(&s, token, org, args, value).ok();
        written.retain(|w| !(w.org == org && w.scope == args[0] && w.name == args[1]));
        written.push(Written {
            token: token.to_owned(),
            org,
            scope: args[0].to_owned(),
            name: args[1].to_owned(),
            value: value.to_vec(),
        });
    };
    // Every kind, several versions, in two orgs.
    write(
        &mut written,
        &s.token,
        "default",
        &["OPS-1", "db-password"],
        b"hunter2",
    );
    write(
        &mut written,
        &s.token,
        "default",
        &["OPS-1", "db-password"],
        b"hunter3",
    );
    write(
        &mut written,
        &s.token,
        "default",
        &["OPS-1", "runbook", "--kind", "note"],
        b"line one\nline two\n\n",
    );
    write(
        &mut written,
        &s.token,
        "default",
        &["OPS-1", "smtp", "--kind", "kv"],
        br#"{"pass":"s3cret","user":"deploy"}"#,
    );
    write(
        &mut written,
        &s.token,
        "default",
        &["OPS", "shared", "--kind", "password"],
        b"project-wide",
    );
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let cert = s.scratch("cert.bin");
    std::fs::write(&cert, &binary).unwrap();
    s.run(&["secret", "put", "OPS-2", "tls", "--file", path(&cert)])
        .ok();
    written.push(Written {
        token: s.token.clone(),
        org: "default",
        scope: "OPS-2".into(),
        name: "tls".into(),
        value: binary,
    });
    write(
        &mut written,
        &bob,
        "beta",
        &["INFRA-7", "root"],
        b"beta-root-1",
    );
    write(
        &mut written,
        &bob,
        "beta",
        &["INFRA-7", "root"],
        b"beta-root-2",
    );
    write(
        &mut written,
        &bob,
        "beta",
        &["INFRA-7", "notes", "--kind", "note"],
        b"beta's note",
    );
    // A deleted secret travels as deleted.
    s.run_stdin(&["secret", "put", "OPS-3", "old"], b"gone-but-kept")
        .ok();
    s.run(&["secret", "rm", "OPS-3", "old"]).ok();

    // Another client keeps writing throughout; what it had been told was stored before the
    // backup began must come back.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let writer = {
        let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
        let (addr, token) = (s.addr.clone(), s.token.clone());
        let bin = env!("CARGO_BIN_EXE_coffer");
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) && i < 500 {
                i += 1;
                let (name, value) = (format!("k{i}"), format!("load-{i}"));
                let r = run(
                    std::process::Command::new(bin)
                        .env("COFFER_ADDR", &addr)
                        .env("COFFER_TOKEN", &token)
                        .env_remove("COFFER_ORG")
                        .args(["secret", "put", "LOAD-1", &name]),
                    value.as_bytes(),
                );
                if r.code() == 0 {
                    acknowledged.lock().unwrap().push((name, value));
                }
            }
        })
    };
    while acknowledged.lock().unwrap().len() < 3 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let before_backup: Vec<(String, String)> = acknowledged.lock().unwrap().clone();

    let (key_file, recipient) = identity(&s.scratch("."));
    let archive = s.scratch("coffer.age");
    let backup = run(
        s.cmd_with_token(&s.operator).args([
            "backup",
            "--out",
            path(&archive),
            "--recipient",
            &recipient,
        ]),
        b"",
    )
    .ok();
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    // The writer was busy throughout: what it had in flight when the backup began, at least,
    // was acknowledged after.
    assert!(
        acknowledged.lock().unwrap().len() > before_backup.len(),
        "no write went on while the backup ran"
    );
    let out = backup.stdout();
    assert!(out.contains("encrypted to 1 age recipient"), "{out}");
    assert!(out.contains("orgs: 2 (beta, default)"), "{out}");
    assert_mode_0600(&archive);
    // Nothing of the plaintext archive is on disk: no SQLite header, no master key, no value.
    let bytes = std::fs::read(&archive).unwrap();
    for plain in [
        &b"SQLite format 3"[..],
        b"CFMK",
        b"manifest.json",
        b"coffer-backup",
    ] {
        assert!(
            !bytes.windows(plain.len()).any(|w| w == plain),
            "the archive holds {:?} in plaintext",
            String::from_utf8_lossy(plain)
        );
    }

    // An existing file is never overwritten.
    let again = run(
        s.cmd_with_token(&s.operator).args([
            "backup",
            "--out",
            path(&archive),
            "--recipient",
            &recipient,
        ]),
        b"",
    )
    .expect_code(2);
    assert!(
        again.stderr().contains("never overwrites"),
        "{}",
        again.stderr()
    );
    assert_eq!(std::fs::read(&archive).unwrap(), bytes);

    // Restore into a new directory, offline. The archive leaves the master key out (the
    // operator's token must not be a way to every secret): without it the restore refuses.
    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("coffer-data");
    let master_key = s.data_dir().join("master.key");
    let without_key = run(
        std::process::Command::new(env!("CARGO_BIN_EXE_coffer")).args([
            "restore",
            "--from",
            path(&archive),
            "--data-dir",
            path(&data),
            "--identity",
            path(&key_file),
        ]),
        b"",
    )
    .expect_code(1);
    assert!(
        without_key.stderr().contains("--master-key"),
        "{}",
        without_key.stderr()
    );
    assert!(!data.exists(), "a failed restore left {}", data.display());
    let restored = run(
        std::process::Command::new(env!("CARGO_BIN_EXE_coffer")).args([
            "restore",
            "--from",
            path(&archive),
            "--data-dir",
            path(&data),
            "--identity",
            path(&key_file),
            "--master-key",
            path(&master_key),
        ]),
        b"",
    )
    .ok();
    let out = restored.stdout();
    assert!(
        out.contains("restored into") && out.contains("orgs: 2"),
        "{out}"
    );
    assert!(!data.join(".coffer-restore-incomplete").exists());
    assert_mode_0600(&data.join("catalog.db"));
    assert_mode_0600(&data.join("master.key"));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    // A second restore into it is refused: it is not empty any more.
    let refused = run(
        std::process::Command::new(env!("CARGO_BIN_EXE_coffer")).args([
            "restore",
            "--from",
            path(&archive),
            "--data-dir",
            path(&data),
            "--identity",
            path(&key_file),
        ]),
        b"",
    )
    .expect_code(1);
    assert!(
        refused.stderr().contains("not empty"),
        "{}",
        refused.stderr()
    );

    // A server on the restored directory reveals every acknowledged secret exactly.
    let r = Server::start_existing(target, &s.token, &s.operator);
    for w in &written {
        assert_eq!(
            reveal(&r, &w.token, w.org, &w.scope, &w.name),
            w.value,
            "{}/{}/{}",
            w.org,
            w.scope,
            w.name
        );
    }
    for (name, value) in &before_backup {
        assert_eq!(
            reveal(&r, &s.token, "default", "LOAD-1", name),
            value.as_bytes(),
            "LOAD-1/{name}"
        );
    }
    let deleted = r.run(&["secret", "list", "OPS-3", "--deleted"]).ok();
    assert!(deleted.stdout().contains("old"), "{}", deleted.stdout());
    r.run(&["secret", "restore", "OPS-3", "old"]).ok();
    assert_eq!(
        reveal(&r, &s.token, "default", "OPS-3", "old"),
        b"gone-but-kept"
    );
    // Both chains verify, checkpoints included, and hold the backup's own event.
    r.run(&["audit", "verify"]).ok();
    run(
        r.cmd_with_token(&bob)
            .args(["--org", "beta", "audit", "verify"]),
        b"",
    )
    .ok();
    let events = r
        .run(&["audit", "list", "--action", "deployment.backup"])
        .ok()
        .stdout();
    assert!(events.contains("deployment.backup"), "{events}");
}

#[test]
fn altered_archives_and_wrong_passphrases_are_refused_and_leave_nothing() {
    let s = Server::start();
    s.run_stdin(&["secret", "put", "OPS-1", "db"], b"hunter2")
        .ok();
    let pass = s.scratch("pass.txt");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    let archive = s.scratch("coffer.age");
    let out = run(
        s.cmd_with_token(&s.operator).args([
            "backup",
            "--out",
            path(&archive),
            "--passphrase-file",
            path(&pass),
        ]),
        b"",
    )
    .ok()
    .stdout();
    assert!(out.contains("encrypted with a passphrase"), "{out}");

    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("coffer-data");
    let restore = |from: &Path, extra: &[&str], stdin: &[u8]| {
        run(
            std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
                .args(["restore", "--from", path(from), "--data-dir", path(&data)])
                .args(extra),
            stdin,
        )
    };

    // A wrong passphrase.
    let wrong = s.scratch("wrong.txt");
    std::fs::write(&wrong, "not the passphrase\n").unwrap();
    let r = restore(&archive, &["--passphrase-file", path(&wrong)], b"").expect_code(1);
    assert!(r.stderr().contains("wrong passphrase"), "{}", r.stderr());
    assert!(!data.exists(), "a failed restore left {}", data.display());

    // One byte flipped in the middle of the archive.
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let altered = s.scratch("altered.age");
    std::fs::write(&altered, &bytes).unwrap();
    let r = restore(&altered, &["--passphrase-file", path(&pass)], b"").expect_code(1);
    assert!(
        r.stderr().contains("could not be read") || r.stderr().contains("cannot decrypt"),
        "{}",
        r.stderr()
    );
    assert!(!data.exists(), "a failed restore left {}", data.display());

    // An identity given for a passphrase archive says what to use instead.
    let (key_file, _) = identity(&s.scratch("."));
    let r = restore(&archive, &["--identity", path(&key_file)], b"").expect_code(2);
    assert!(r.stderr().contains("--passphrase"), "{}", r.stderr());
    assert!(!data.exists());

    // Another server's master key does not open this one's org keys: refused, nothing left.
    let other = Server::start();
    let other_key = other.data_dir().join("master.key");
    let r = restore(
        &archive,
        &[
            "--passphrase-file",
            path(&pass),
            "--master-key",
            path(&other_key),
        ],
        b"",
    )
    .expect_code(1);
    assert!(r.stderr().contains("master key"), "{}", r.stderr());
    assert!(!data.exists(), "a failed restore left {}", data.display());

    // The right passphrase, on stdin, and the right master key.
    let master_key = s.data_dir().join("master.key");
    let r = restore(
        &archive,
        &["--passphrase", "--master-key", path(&master_key)],
        b"correct horse battery staple\n",
    )
    .ok();
    assert!(r.stdout().contains("secrets: 1"), "{}", r.stdout());
    let r = Server::start_existing(target, &s.token, &s.operator);
    assert_eq!(reveal(&r, &s.token, "default", "OPS-1", "db"), b"hunter2");
}

#[test]
fn only_the_operator_takes_backups() {
    // This host's configuration lets archives carry the master key.
    let s = Server::start_with_env(&[("COFFER_KEYS__MASTER_KEY_IN_BACKUPS", "true")]);
    let (_, recipient) = identity(&s.scratch("."));
    let out = s.scratch("owner.age");
    let r = s
        .run(&["backup", "--out", path(&out), "--recipient", &recipient])
        .expect_code(1);
    assert!(r.stderr().contains("operator"), "{}", r.stderr());
    assert!(!out.exists(), "a refused backup left {}", out.display());
    let r = s
        .run(&["backup", "--out", path(&out), "--recipient", "age1nonsense"])
        .expect_code(2);
    assert!(
        r.stderr().contains("not an age recipient"),
        "{}",
        r.stderr()
    );

    // The operator's backup to a classic X25519 recipient restores with its identity.
    let (key_file, recipient) = classic_identity(&s.scratch("."));
    run(
        s.cmd_with_token(&s.operator).args([
            "backup",
            "--out",
            path(&out),
            "--recipient",
            &recipient,
        ]),
        b"",
    )
    .ok();
    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("coffer-data");
    let given = run(
        std::process::Command::new(env!("CARGO_BIN_EXE_coffer")).args([
            "restore",
            "--from",
            path(&out),
            "--data-dir",
            path(&data),
            "--identity",
            path(&key_file),
            "--master-key",
            path(&s.data_dir().join("master.key")),
        ]),
        b"",
    )
    .expect_code(1);
    assert!(
        given.stderr().contains("carries its master key"),
        "{}",
        given.stderr()
    );
    run(
        std::process::Command::new(env!("CARGO_BIN_EXE_coffer")).args([
            "restore",
            "--from",
            path(&out),
            "--data-dir",
            path(&data),
            "--identity",
            path(&key_file),
        ]),
        b"",
    )
    .ok();
    assert!(data.join("catalog.db").exists());
    assert!(data.join("master.key").exists());
}
