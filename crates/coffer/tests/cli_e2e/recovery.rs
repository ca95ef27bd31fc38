//! `coffer org recovery-kit` and `coffer recover` end to end: an owner of an org with secrets of
//! every kind, several versions and two org-key versions takes the org's recovery kit (re-typing
//! their password; an admin, another org's owner and the operator are refused); then the server
//! is stopped, its catalog and master key are deleted, and every envelope left in the blob
//! directory opens with the kit alone, byte for byte. Another org's kit refuses them by name.

use crate::support::{Run, Server, assert_mode_0600, run};
use age::secrecy::ExposeSecret;
use base64::Engine as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const OWNER_PASSWORD: &str = "a long enough passphrase"; // what `org_with_owner` sets

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A post-quantum age identity file named `name` in `dir`; returns it and its recipient.
fn identity(dir: &Path, name: &str) -> (PathBuf, String) {
    let id = age::pq::Identity::generate();
    let file = dir.join(name);
    std::fs::write(&file, format!("{}\n", id.to_string().expose_secret())).unwrap();
    (file, id.to_public().to_string())
}

fn put(s: &Server, token: &str, org: &str, args: &[&str], value: &[u8]) {
    run(
        s.cmd_with_token(token)
            .args(["--org", org, "secret", "put"])
            .args(args),
        value,
    )
    .ok();
}

fn json(s: &Server, token: &str, org: &str, args: &[&str]) -> serde_json::Value {
    let out = run(
        s.cmd_with_token(token)
            .args(["--json", "--org", org])
            .args(args),
        b"",
    )
    .ok()
    .stdout();
    serde_json::from_str(&out).unwrap()
}

/// Every version of every secret of `org`, by (secret id, version), as the server reveals it.
fn every_value(s: &Server, token: &str, org: &str) -> BTreeMap<(String, u32), Vec<u8>> {
    let list = json(s, token, org, &["secret", "list"]);
    let mut values = BTreeMap::new();
    for secret in list["secrets"].as_array().unwrap() {
        let (id, scope, name) = (
            secret["id"].as_str().unwrap(),
            secret["scope"].as_str().unwrap(),
            secret["name"].as_str().unwrap(),
        );
        for version in 1..=secret["version"].as_u64().unwrap() as u32 {
            let v = version.to_string();
            let got = json(
                s,
                token,
                org,
                &["secret", "get", scope, name, "--version", &v],
            );
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(got["value"].as_str().unwrap())
                .unwrap();
            values.insert((id.to_owned(), version), bytes);
        }
    }
    values
}

/// Every envelope file under `dir`, with the secret id and version its object key names.
fn envelopes(dir: &Path, out: &mut Vec<(PathBuf, String, u32)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            envelopes(&p, out);
        } else if p.extension().is_some_and(|e| e == "cfr") {
            // …/orgs/{org}/secrets/{secret}/v{version}-{hex}.cfr
            let secret = p
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            let file = p.file_name().unwrap().to_str().unwrap();
            let version = file[1..file.find('-').unwrap()].parse().unwrap();
            out.push((p, secret, version));
        }
    }
}

fn kit_cmd(s: &Server, token: &str, org: &str, out: &Path, extra: &[&str], stdin: &str) -> Run {
    run(
        s.cmd_with_token(token)
            .args(["--org", org, "org", "recovery-kit", "--out", path(out)])
            .args(extra),
        stdin.as_bytes(),
    )
}

fn recover(s: &Server, args: &[&str]) -> Run {
    run(s.cmd_without_token(".").arg("recover").args(args), b"")
}

#[test]
fn the_kit_alone_opens_every_envelope_after_the_catalog_and_master_key_are_gone() {
    let mut s = Server::start();
    let olive = s.org_with_owner("acme", &[], "olive");
    let bob = s.org_with_owner("beta", &[], "bob");
    let adam = s.invite_and_accept(&olive, "acme", "adam", "admin", "adam's long passphrase");

    // Secrets of every kind, several versions, and a rotation between them.
    put(&s, &olive, "acme", &["OPS-1", "db-password"], b"hunter2");
    put(&s, &olive, "acme", &["OPS-1", "db-password"], b"hunter3");
    put(
        &s,
        &olive,
        "acme",
        &["OPS-1", "smtp", "--kind", "kv"],
        br#"{"user":"deploy","pass":"s3cret"}"#,
    );
    run(
        s.cmd_with_token(&olive)
            .args(["--org", "acme", "org", "rotate-key"]),
        b"",
    )
    .ok();
    put(&s, &olive, "acme", &["OPS-1", "db-password"], b"hunter4");
    let binary: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
    let cert = s.scratch("cert.bin");
    std::fs::write(&cert, &binary).unwrap();
    put(
        &s,
        &olive,
        "acme",
        &["OPS", "tls-cert", "--file", path(&cert)],
        b"",
    );
    put(&s, &bob, "beta", &["BET-1", "other"], b"beta's value");
    let acme_values = every_value(&s, &olive, "acme");
    let beta_values = every_value(&s, &bob, "beta");
    assert_eq!(acme_values.len(), 5, "{:?}", acme_values.keys());
    assert!(acme_values.values().any(|v| v == &binary));

    let keys = s.scratch("keys");
    std::fs::create_dir(&keys).unwrap();
    let (id_file, recipient) = identity(&keys, "kit-key.txt");
    let kit = s.scratch("acme-kit.age");
    let with_recipient = ["--recipient", recipient.as_str()];

    // A wrong password makes no kit, and leaves no file.
    let wrong = kit_cmd(
        &s,
        &olive,
        "acme",
        &kit,
        &with_recipient,
        "not my password\n",
    )
    .expect_code(1);
    assert!(
        wrong.stderr().contains("current password is wrong"),
        "{}",
        wrong.stderr()
    );
    assert!(!kit.exists());
    // An admin is refused, with their own correct password.
    let admin = kit_cmd(
        &s,
        &adam,
        "acme",
        &kit,
        &with_recipient,
        "adam's long passphrase\n",
    );
    assert_ne!(admin.code(), 0);
    assert!(
        admin.stderr().contains("role `admin`") && admin.stderr().contains("recovery kit"),
        "{}",
        admin.stderr()
    );
    // Another org's owner, and the operator, do not even see the org.
    let other = kit_cmd(
        &s,
        &bob,
        "acme",
        &kit,
        &with_recipient,
        &format!("{OWNER_PASSWORD}\n"),
    );
    assert_ne!(other.code(), 0);
    assert!(other.stderr().contains("not found"), "{}", other.stderr());
    let operator = kit_cmd(&s, &s.operator, "acme", &kit, &with_recipient, "whatever\n");
    assert_ne!(operator.code(), 0);
    assert!(
        operator.stderr().contains("not found"),
        "{}",
        operator.stderr()
    );
    assert!(!kit.exists());

    // The owner, with their password: the kit, 0600, audited.
    let made = kit_cmd(
        &s,
        &olive,
        "acme",
        &kit,
        &with_recipient,
        &format!("{OWNER_PASSWORD}\n"),
    )
    .ok();
    assert!(
        made.stdout().contains("org-key versions: 1, 2"),
        "{}",
        made.stdout()
    );
    assert_mode_0600(&kit);
    let again = kit_cmd(
        &s,
        &olive,
        "acme",
        &kit,
        &with_recipient,
        &format!("{OWNER_PASSWORD}\n"),
    )
    .expect_code(2);
    assert!(
        again.stderr().contains("never overwrites"),
        "{}",
        again.stderr()
    );
    let pass_file = keys.join("kit.pass");
    std::fs::write(&pass_file, "correct horse battery staple\n").unwrap();
    let pass_kit = s.scratch("acme-kit-pass.age");
    kit_cmd(
        &s,
        &olive,
        "acme",
        &pass_kit,
        &["--passphrase-file", path(&pass_file)],
        &format!("{OWNER_PASSWORD}\n"),
    )
    .ok();
    let (beta_id, beta_recipient) = identity(&keys, "beta-key.txt");
    let beta_kit = s.scratch("beta-kit.age");
    kit_cmd(
        &s,
        &bob,
        "beta",
        &beta_kit,
        &["--recipient", &beta_recipient],
        &format!("{OWNER_PASSWORD}\n"),
    )
    .ok();
    let audit = run(
        s.cmd_with_token(&olive)
            .args(["--org", "acme", "audit", "list"]),
        b"",
    )
    .ok()
    .stdout();
    assert_eq!(
        audit.matches("org.recovery_kit").count(),
        2,
        "one event per kit made: {audit}"
    );
    let kit_bytes = std::fs::read(&kit).unwrap();
    assert!(
        !kit_bytes.windows(6).any(|w| w == b"org_id"),
        "the kit is encrypted"
    );

    // The server is gone, and so are its catalog and master key.
    s.stop();
    let data = s.data_dir();
    for file in [
        "catalog.db",
        "catalog.db-wal",
        "catalog.db-shm",
        "master.key",
    ] {
        let _ = std::fs::remove_file(data.join(file));
    }
    assert!(!data.join("catalog.db").exists() && !data.join("master.key").exists());
    let mut found = Vec::new();
    envelopes(&data.join("blobs"), &mut found);
    assert_eq!(found.len(), acme_values.len() + beta_values.len());

    let out_dir = s.scratch("recovered");
    std::fs::create_dir(&out_dir).unwrap();
    let mut opened = 0;
    for (i, (object, secret, version)) in found.iter().enumerate() {
        let key = (secret.clone(), *version);
        if let Some(want) = acme_values.get(&key) {
            let out = out_dir.join(format!("value-{i}"));
            let done = recover(
                &s,
                &[
                    "--kit",
                    path(&kit),
                    "--identity",
                    path(&id_file),
                    "--object",
                    path(object),
                    "--out",
                    path(&out),
                ],
            )
            .ok();
            assert!(
                done.stderr()
                    .contains(&format!("opened secret {secret} version {version}")),
                "{}",
                done.stderr()
            );
            assert_eq!(&std::fs::read(&out).unwrap(), want, "{secret} v{version}");
            assert_mode_0600(&out);
            opened += 1;
            // The other org's kit names the mismatch and opens nothing.
            let refused = recover(
                &s,
                &[
                    "--kit",
                    path(&beta_kit),
                    "--identity",
                    path(&beta_id),
                    "--object",
                    path(object),
                ],
            )
            .expect_code(1);
            assert!(
                refused.stderr().contains("not to the kit's org `beta`"),
                "{}",
                refused.stderr()
            );
            assert!(refused.stdout().is_empty());
        } else {
            let want = &beta_values[&key];
            let done = recover(
                &s,
                &[
                    "--kit",
                    path(&beta_kit),
                    "--identity",
                    path(&beta_id),
                    "--object",
                    path(object),
                ],
            )
            .ok();
            assert_eq!(done.out.stdout, *want);
        }
    }
    assert_eq!(opened, acme_values.len());

    // The passphrase kit opens them too (to stdout); a changed byte does not open.
    let (object, secret, version) = found
        .iter()
        .find(|(_, s, v)| acme_values.contains_key(&(s.clone(), *v)))
        .unwrap();
    let done = recover(
        &s,
        &[
            "--kit",
            path(&pass_kit),
            "--passphrase-file",
            path(&pass_file),
            "--object",
            path(object),
        ],
    )
    .ok();
    assert_eq!(done.out.stdout, acme_values[&(secret.clone(), *version)]);
    let mut altered = std::fs::read(object).unwrap();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    let altered_file = s.scratch("altered.cfr");
    std::fs::write(&altered_file, &altered).unwrap();
    let bad = recover(
        &s,
        &[
            "--kit",
            path(&kit),
            "--identity",
            path(&id_file),
            "--object",
            path(&altered_file),
        ],
    )
    .expect_code(1);
    assert!(bad.stderr().contains("does not open"), "{}", bad.stderr());
    assert!(bad.stdout().is_empty());
    // The wrong key for the kit itself.
    let wrong_key = recover(
        &s,
        &[
            "--kit",
            path(&kit),
            "--identity",
            path(&beta_id),
            "--object",
            path(object),
        ],
    )
    .expect_code(1);
    assert!(
        wrong_key
            .stderr()
            .contains("no key in the identity file opens this kit"),
        "{}",
        wrong_key.stderr()
    );
}
