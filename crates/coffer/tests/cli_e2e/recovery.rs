//! `coffer org recovery-kit` and `coffer recover` end to end: an owner of an org with secrets of
//! every kind, several versions and two org-key versions takes the org's recovery kit (re-typing
//! their password; an admin, another org's owner and the operator are refused); then the server
//! is stopped, its catalog and master key are deleted, and every envelope left in the blob
//! directory opens with the kit alone, byte for byte. Another org's kit refuses them by name.

use crate::support::{self, Run, Server, assert_mode_0600, run};
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
    // The whole blob directory: every secret's latest value under its scope and name.
    let kit_args = ["--kit", path(&kit), "--identity", path(&id_file)];
    let blobs = data.join("blobs");
    let rebuilt = s.scratch("rebuilt");
    let done = recover(
        &s,
        &[
            &kit_args[..],
            &["--dir", path(&blobs), "--out", path(&rebuilt)],
        ]
        .concat(),
    )
    .ok();
    assert!(
        done.stderr().contains("recovered 3 value(s) of org `acme`"),
        "{}",
        done.stderr()
    );
    assert_eq!(
        std::fs::read(rebuilt.join("OPS-1/db-password")).unwrap(),
        b"hunter4"
    );
    assert_eq!(
        std::fs::read(rebuilt.join("OPS-1/smtp")).unwrap(),
        br#"{"user":"deploy","pass":"s3cret"}"#
    );
    assert_eq!(std::fs::read(rebuilt.join("OPS/tls-cert")).unwrap(), binary);
    assert_mode_0600(&rebuilt.join("OPS-1/db-password"));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rebuilt.join("index.json")).unwrap()).unwrap();
    let versions = index["versions"].as_array().unwrap();
    assert_eq!(
        versions.len(),
        acme_values.len(),
        "every acme version, no beta one"
    );
    let older: Vec<_> = versions.iter().filter(|v| v["latest"] == false).collect();
    assert_eq!(older.len(), 2);
    assert!(
        older
            .iter()
            .all(|v| v["problem"].as_str().unwrap().contains("--all-versions"))
    );
    let cert = versions.iter().find(|v| v["name"] == "tls-cert").unwrap();
    assert_eq!(
        (
            cert["scope"].as_str(),
            cert["kind"].as_str(),
            cert["written_by"].as_str()
        ),
        (Some("OPS"), Some("file"), Some("olive"))
    );
    // Into a directory that exists: refused, nothing written.
    let refused = recover(
        &s,
        &[
            &kit_args[..],
            &["--dir", path(&blobs), "--out", path(&rebuilt)],
        ]
        .concat(),
    )
    .expect_code(2);
    assert!(refused.stderr().contains("exists"), "{}", refused.stderr());

    // Every version, each byte for byte.
    let all = s.scratch("rebuilt-all");
    recover(
        &s,
        &[
            &kit_args[..],
            &["--dir", path(&blobs), "--out", path(&all), "--all-versions"],
        ]
        .concat(),
    )
    .ok();
    for (file, want) in [
        ("OPS-1/db-password@v1", &b"hunter2"[..]),
        ("OPS-1/db-password@v2", b"hunter3"),
        ("OPS-1/db-password", b"hunter4"),
    ] {
        assert_eq!(std::fs::read(all.join(file)).unwrap(), want, "{file}");
    }

    // A manifest is not a value: --object refuses it by its binding.
    let mut all_envelopes = Vec::new();
    envelopes(&blobs, &mut all_envelopes);
    let a_manifest = all_envelopes[0].0.with_extension("cfm");
    let refused = recover(
        &s,
        &[&kit_args[..], &["--object", path(&a_manifest)]].concat(),
    )
    .expect_code(1);
    assert!(
        refused.stderr().contains("is a version's manifest"),
        "{}",
        refused.stderr()
    );
    assert!(refused.stdout().is_empty());

    // An attacker with the store: a deleted manifest names nothing, a manifest moved onto another
    // envelope is refused (both values still open, unnamed, and the refusal fails the run); an
    // altered envelope opens to nothing.
    let copy = s.scratch("tampered");
    copy_dir(&blobs, &copy);
    let mut tampered = Vec::new();
    envelopes(&copy, &mut tampered);
    let manifest_of = |p: &Path| p.with_extension("cfm");
    let by_value = |v: &[u8]| {
        tampered
            .iter()
            .find(|(_, sec, ver)| {
                acme_values
                    .get(&(sec.clone(), *ver))
                    .is_some_and(|x| x == v)
            })
            .unwrap()
            .clone()
    };
    let (smtp, smtp_id, _) = by_value(br#"{"user":"deploy","pass":"s3cret"}"#);
    let (cert_env, cert_id, _) = by_value(&binary);
    let (pw, _, _) = by_value(b"hunter4");
    std::fs::remove_file(manifest_of(&smtp)).unwrap();
    std::fs::copy(manifest_of(&pw), manifest_of(&cert_env)).unwrap();
    let out = s.scratch("from-tampered");
    let done = recover(
        &s,
        &[&kit_args[..], &["--dir", path(&copy), "--out", path(&out)]].concat(),
    )
    .expect_code(1);
    assert!(
        done.stderr().contains("2 without a usable manifest")
            && done.stderr().contains("1 manifest(s) were REFUSED"),
        "{}",
        done.stderr()
    );
    assert_eq!(
        std::fs::read(out.join(format!("_unnamed/{smtp_id}"))).unwrap(),
        br#"{"user":"deploy","pass":"s3cret"}"#
    );
    assert_eq!(
        std::fs::read(out.join(format!("_unnamed/{cert_id}"))).unwrap(),
        binary
    );
    assert_eq!(
        std::fs::read(out.join("OPS-1/db-password")).unwrap(),
        b"hunter4"
    );
    let index = std::fs::read_to_string(out.join("index.json")).unwrap();
    assert!(index.contains("no manifest beside it"), "{index}");
    assert!(index.contains("not the manifest binding"), "{index}");
    let mut bytes = std::fs::read(&pw).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&pw, bytes).unwrap();
    let out = s.scratch("from-altered");
    let failed = recover(
        &s,
        &[&kit_args[..], &["--dir", path(&copy), "--out", path(&out)]].concat(),
    )
    .expect_code(1);
    assert!(
        failed.stderr().contains("1 object(s) could NOT be opened")
            && failed.stderr().contains("1 manifest(s) were REFUSED"),
        "{}",
        failed.stderr()
    );
    assert!(!out.join("OPS-1/db-password").exists());
    assert!(
        std::fs::read_to_string(out.join("index.json"))
            .unwrap()
            .contains("does not open"),
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// A BYOK org whose envelopes live in its own bucket on moto (S3 and KMS): after the whole data
/// directory — catalog, master key, blobs — is gone, its kit, the bucket and the org's own KMS
/// keys (reached with the owner's AWS credentials, not Coffer's) give back every secret by name
/// and every version byte for byte; with KMS out of reach nothing opens and the error says why.
#[test]
fn a_byok_org_is_rebuilt_from_its_bucket_and_its_kms_keys_with_no_data_dir() {
    use crate::moto::{Moto, unique};
    use serde_json::json;
    const REGIONS: [&str; 2] = ["eu-central-1", "eu-west-1"];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let moto = Moto::start();
    let mut s = Server::start_with_env(&[
        (
            "COFFER_BYOK__PRINCIPAL_ARN",
            "arn:aws:iam::123456789012:user/coffer",
        ),
        ("COFFER_BYOK__AWS__ENDPOINT", moto.endpoint()),
        ("COFFER_BYOK__AWS__CREDENTIALS__KIND", "static"),
        ("COFFER_BYOK__AWS__CREDENTIALS__ACCESS_KEY_ID", "test"),
        ("COFFER_BYOK__AWS__CREDENTIALS__SECRET_ACCESS_KEY", "test"),
        ("COFFER_STORAGE__ALLOW_CUSTOM_ENDPOINTS", "true"),
        ("COFFER_STORAGE__MIGRATION_INTERVAL", "100ms"),
        ("COFFER_STORAGE__AWS__ENDPOINT", moto.endpoint()),
        ("COFFER_STORAGE__AWS__CREDENTIALS__KIND", "static"),
        ("COFFER_STORAGE__AWS__CREDENTIALS__ACCESS_KEY_ID", "test"),
        (
            "COFFER_STORAGE__AWS__CREDENTIALS__SECRET_ACCESS_KEY",
            "test",
        ),
    ]);
    let alice = s.org_with_owner("acme", &["--location", "eu"], "alice");
    let as_alice = |s: &Server, args: &[&str], stdin: &[u8]| {
        run(
            s.cmd_with_token(&alice).args(["--org", "acme"]).args(args),
            stdin,
        )
        .ok()
    };
    // Written to the default store first, then moved into the bucket (with fresh manifests).
    as_alice(&s, &["secret", "put", "OPS-7", "db"], b"before-1");
    as_alice(&s, &["secret", "put", "OPS-7", "db"], b"before-2");
    as_alice(
        &s,
        &["secret", "put", "OPS", "api", "--kind", "note"],
        b"line one\nline two\n",
    );
    let bucket = unique("acme-dr");
    rt.block_on(async {
        let s3 = coffer_server::aws::s3_client(&moto.settings(REGIONS[0]))
            .await
            .unwrap();
        s3.create_bucket()
            .bucket(&bucket)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(REGIONS[0].into())
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    as_alice(
        &s,
        &[
            "org",
            "storage",
            "set",
            "--bucket",
            &bucket,
            "--region",
            REGIONS[0],
            "--endpoint",
            moto.endpoint(),
            "--prefix",
            "coffer",
        ],
        b"",
    );
    let shown = as_alice(&s, &["org", "storage", "show", "--watch"], b"").stdout();
    assert!(shown.contains("3 of 3 versions in place"), "{shown}");
    // BYOK with a key in each region, then more writes straight into the bucket.
    let keys: Vec<String> = REGIONS
        .iter()
        .map(|r| {
            let out = rt.block_on(moto.kms(r, "CreateKey", json!({})));
            out["KeyMetadata"]["Arn"].as_str().unwrap().to_owned()
        })
        .collect();
    let role = rt.block_on(moto.create_role(&unique("acme-byok"), "{}"));
    let k0 = format!("{}={}", REGIONS[0], keys[0]);
    let k1 = format!("{}={}", REGIONS[1], keys[1]);
    as_alice(
        &s,
        &[
            "org",
            "keys",
            "byok",
            "acme",
            "--role-arn",
            &role,
            "--key",
            &k0,
            "--key",
            &k1,
        ],
        b"",
    );
    as_alice(&s, &["secret", "put", "OPS-7", "db"], b"after-3");
    as_alice(
        &s,
        &["secret", "put", "OPS-8", "token", "--kind", "kv"],
        br#"{"t":"x"}"#,
    );
    let values = every_value(&s, &alice, "acme");
    assert_eq!(values.len(), 5);

    let keys_dir = s.scratch("keys");
    std::fs::create_dir(&keys_dir).unwrap();
    let (id_file, recipient) = identity(&keys_dir, "kit-key.txt");
    let kit = s.scratch("acme-kit.age");
    let made = kit_cmd(
        &s,
        &alice,
        "acme",
        &kit,
        &["--recipient", &recipient],
        &format!("{OWNER_PASSWORD}\n"),
    )
    .ok();
    assert!(made.stdout().contains("KMS keys"), "{}", made.stdout());

    // Everything on the server's disk is gone.
    s.stop();
    std::fs::remove_dir_all(s.data_dir()).unwrap();

    let recover_into = |out: &Path, extra: &[&str]| {
        run(
            s.cmd_without_token(".")
                .env("AWS_ACCESS_KEY_ID", "owner")
                .env("AWS_SECRET_ACCESS_KEY", "owner-secret")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .args(["recover", "--kit", path(&kit), "--identity", path(&id_file)])
                .args(["--bucket", &bucket, "--kms-endpoint", moto.endpoint()])
                .args(["--out", path(out)])
                .args(extra),
            b"",
        )
    };
    let out = s.scratch("acme-rebuilt");
    let done = recover_into(&out, &[]).ok();
    assert!(
        done.stderr().contains("recovered 3 value(s)"),
        "{}",
        done.stderr()
    );
    assert!(
        done.stderr().contains(&format!("s3://{bucket}/coffer")),
        "{}",
        done.stderr()
    );
    assert_eq!(std::fs::read(out.join("OPS-7/db")).unwrap(), b"after-3");
    assert_eq!(
        std::fs::read(out.join("OPS/api")).unwrap(),
        b"line one\nline two\n"
    );
    assert_eq!(
        std::fs::read(out.join("OPS-8/token")).unwrap(),
        br#"{"t":"x"}"#
    );

    let all = s.scratch("acme-all");
    recover_into(&all, &["--all-versions"]).ok();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(all.join("index.json")).unwrap()).unwrap();
    let mut compared = 0;
    for v in index["versions"].as_array().unwrap() {
        let key = (
            v["secret_id"].as_str().unwrap().to_owned(),
            v["version"].as_u64().unwrap() as u32,
        );
        let file = all.join(v["file"].as_str().unwrap());
        assert_eq!(
            std::fs::read(&file).unwrap(),
            values[&key],
            "{}",
            file.display()
        );
        compared += 1;
    }
    assert_eq!(compared, values.len(), "every version recovered");

    // KMS out of reach (moto keeps decrypting with a disabled key, so unreachability is the
    // failure a test can make here): nothing opens, and the error names every region tried.
    let closed = format!("http://127.0.0.1:{}", support::free_port());
    let refused = run(
        s.cmd_without_token(".")
            .env("AWS_ACCESS_KEY_ID", "owner")
            .env("AWS_SECRET_ACCESS_KEY", "owner-secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(["recover", "--kit", path(&kit), "--identity", path(&id_file)])
            .args(["--bucket", &bucket, "--endpoint", moto.endpoint()])
            .args([
                "--kms-endpoint",
                &closed,
                "--out",
                path(&s.scratch("no-region")),
            ]),
        b"",
    )
    .expect_code(1);
    for needle in [
        "failed in every region",
        REGIONS[0],
        REGIONS[1],
        "could not be reached",
    ] {
        assert!(
            refused.stderr().contains(needle),
            "{needle}: {}",
            refused.stderr()
        );
    }
    assert!(!s.scratch("no-region").join("OPS-7/db").exists());
}
