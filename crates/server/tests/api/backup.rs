//! `POST /api/v1/admin/backup` through HTTP, and the library's restore of what it streams: the
//! operator alone may take one, a PostgreSQL deployment is pointed at pg_dump, and an archive
//! restores (offline, into an empty directory) into a data directory a new app serves every
//! secret from. The CLI's end-to-end tests (age encryption, writes during the backup, tampering)
//! are in crates/coffer/tests/cli_e2e/backup.rs.

use crate::helpers::*;
use coffer_server::backup::restore::{Restore, RestoreError};
use coffer_server::catalog::CatalogSettings;
use coffer_server::config::{Config, Overrides};
use coffer_server::startup::RunningApp;
use coffer_server::testing::pg::TestDb;
use reqwest::Method;
use serde_json::json;

/// The archive's bytes, as the operator.
async fn take_backup(t: &TestApp) -> Vec<u8> {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/admin/backup", t.base))
        .bearer_auth(&t.operator)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    let size: u64 = r.headers()["x-coffer-backup-size"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = r.bytes().await.unwrap().to_vec();
    assert_eq!(bytes.len() as u64, size, "the announced size is the body's");
    bytes
}

#[tokio::test]
async fn only_the_operator_takes_backups() {
    let t = spawn_with(|c| c.keys.master_key_in_backups = true).await;
    let beta = t.org_with_owner("beta", "bob").await;
    for token in [&t.token, &beta] {
        let r = t
            .call(token, Method::POST, "/api/v1/admin/backup", None)
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.message().contains("operator"), "{}", r.body);
    }
    let r = t.call("", Method::POST, "/api/v1/admin/backup", None).await;
    assert_eq!(r.status, 401);
    // The operator's backup is recorded in every org's chain.
    take_backup(&t).await;
    let events = t
        .get("/api/v1/orgs/default/audit?action=deployment.backup")
        .await;
    assert_eq!(events.status, 200, "{}", events.body);
    assert_eq!(
        events.body["events"].as_array().unwrap().len(),
        1,
        "{}",
        events.body
    );
}

#[tokio::test]
async fn a_postgres_deployment_is_pointed_at_pg_dump() {
    let db = TestDb::create().await;
    let t = spawn_with(|c| {
        c.catalog = CatalogSettings::Postgres {
            url: db.url.clone(),
            pool_size: 4,
            connect_timeout: std::time::Duration::from_secs(10),
        };
    })
    .await;
    let r = t
        .call(&t.operator, Method::POST, "/api/v1/admin/backup", None)
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.code(), "backup_not_supported");
    assert!(
        r.message().contains("pg_dump") && r.message().contains("docs/operations.md"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn an_archive_restores_into_a_data_directory_that_serves_every_secret() {
    let t = spawn_with(|c| c.keys.master_key_in_backups = true).await;
    let beta = t.org_with_owner("beta", "bob").await;
    assert_eq!(t.put_secret("OPS-1", "db", b"hunter2").await.status, 201);
    assert_eq!(t.put_secret("OPS-1", "db", b"hunter3").await.status, 200);
    let r = t
        .put_secret_as(&beta, "beta", "OPS", "note", b"beta's", json!({}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let archive = take_backup(&t).await;

    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("data");
    // A directory with something in it is refused, and left alone.
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("keep"), b"x").unwrap();
    assert!(matches!(
        Restore::begin(&data),
        Err(RestoreError::TargetNotEmpty { .. })
    ));
    assert!(data.join("keep").exists());
    std::fs::remove_file(data.join("keep")).unwrap();

    // An archive cut short is refused and leaves the directory as it was.
    let restore = Restore::begin(&data).unwrap();
    let cut = &archive[..archive.len() / 2];
    let err = restore.unpack(cut).expect_err("a truncated archive");
    assert!(
        matches!(
            err,
            RestoreError::Damaged(_) | RestoreError::Incomplete(_) | RestoreError::NotABackup(_)
        ),
        "{err}"
    );
    drop(restore);
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);

    let restore = Restore::begin(&data).unwrap();
    let manifest = restore.unpack(&archive[..]).unwrap();
    assert_eq!(manifest.format, "coffer-backup");
    assert_eq!(manifest.version, 1);
    let slugs: Vec<_> = manifest.orgs.iter().map(|o| o.slug.as_str()).collect();
    assert_eq!(slugs, ["beta", "default"]);
    assert_eq!(manifest.blobs, 3);
    let summary = restore.verify(&manifest).await.unwrap();
    assert_eq!(
        (
            summary.orgs,
            summary.secrets,
            summary.versions,
            summary.blobs
        ),
        (2, 2, 3, 3)
    );
    assert!(summary.audit_events > 0);
    restore.commit().unwrap();
    assert!(!data.join(".coffer-restore-incomplete").exists());
    assert_mode(&data, 0o700);
    assert_mode(&data.join("catalog.db"), 0o600);
    assert_mode(&data.join("master.key"), 0o600);

    // A new app on the restored directory serves what the first one had.
    let (token, operator) = (t.token.clone(), t.operator.clone());
    drop(t);
    let config = Config::load(
        None,
        Overrides {
            data_dir: Some(data.clone()),
            listen: Some("127.0.0.1:0".into()),
        },
    )
    .unwrap();
    let app = RunningApp::start(&config)
        .await
        .expect("the restored app starts");
    assert!(
        app.admin_token.is_none(),
        "a restored deployment is not bootstrapped again"
    );
    let mut restored = TestApp::attach(app, token, target);
    restored.operator = operator;
    assert_eq!(restored.reveal("OPS-1", "db").await, b"hunter3");
    let r = restored.reveal_as(&beta, "beta", "OPS", "note").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let verify = restored.get("/api/v1/orgs/default/audit/verify").await;
    assert_eq!(verify.status, 200, "{}", verify.body);
    assert_eq!(verify.body["ok"], true, "{}", verify.body);
}

fn assert_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let got = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(got, mode, "{} has mode {got:o}", path.display());
}

/// The archive with the contents of its first two envelopes swapped (each under the other's
/// name), as a tampered or mixed-up copy would be.
fn swap_two_envelopes(archive: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut entries = Vec::new();
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        entries.push((name, data));
    }
    let blobs: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].0.starts_with("blobs/"))
        .collect();
    let (a, b) = (blobs[0], blobs[1]);
    let data_a = std::mem::take(&mut entries[a].1);
    entries[a].1 = std::mem::replace(&mut entries[b].1, data_a);
    let mut out = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o600);
        out.append_data(&mut header, name, &data[..]).unwrap();
    }
    out.into_inner().unwrap()
}

#[tokio::test]
async fn an_envelope_under_another_versions_name_fails_verification_and_leaves_nothing() {
    let t = spawn_with(|c| c.keys.master_key_in_backups = true).await;
    assert_eq!(t.put_secret("OPS-1", "a", b"one").await.status, 201);
    assert_eq!(t.put_secret("OPS-1", "b", b"two").await.status, 201);
    let archive = swap_two_envelopes(&take_backup(&t).await);
    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("data");
    let restore = Restore::begin(&data).unwrap();
    let manifest = restore.unpack(&archive[..]).unwrap();
    let err = restore
        .verify(&manifest)
        .await
        .expect_err("swapped envelopes");
    assert!(
        matches!(&err, RestoreError::Verification(m) if m.contains("bound to another secret")),
        "{err}"
    );
    drop(restore);
    assert!(!data.exists(), "a failed restore left {}", data.display());
}

#[tokio::test]
async fn archives_leave_the_master_key_out_unless_the_host_lets_them_carry_it() {
    let t = spawn_app().await;
    assert_eq!(t.put_secret("OPS-1", "a", b"one").await.status, 201);
    let archive = take_backup(&t).await;
    let mut tar = tar::Archive::new(&archive[..]);
    let names: Vec<String> = tar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.iter().all(|n| n != "master.key"), "{names:?}");
    let target = tempfile::tempdir().unwrap();
    let data = target.path().join("data");
    let restore = Restore::begin(&data).unwrap();
    let manifest = restore.unpack(&archive[..]).unwrap();
    assert!(!manifest.master_key);
}
