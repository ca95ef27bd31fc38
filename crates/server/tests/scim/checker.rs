//! The real checker: `scim2-cli`'s `scim2 --url … test` runs every check of `scim2-tester`
//! (discovery, the methods each endpoint refuses, creating, reading, listing, attribute
//! selection, searching, replacing, patching every attribute the schemas publish, deleting) and
//! exits 0 only if every one succeeds — a skipped check counts as a failure.
//!
//! `scim2` comes from `COFFER_SCIM2`, else `.venv-scim/bin/scim2` at the workspace root (what
//! `scripts/test.sh` installs); without it the test fails, never skips.

use crate::{Backend, World};
use std::path::{Path, PathBuf};
use std::process::Command;

fn scim2() -> PathBuf {
    let p = std::env::var_os("COFFER_SCIM2")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-scim/bin/scim2")
        });
    assert!(
        p.is_file(),
        "scim2 (scim2-cli) is not at {}: run scripts/test.sh (it installs it into .venv-scim), or \
         set COFFER_SCIM2 to its path",
        p.display()
    );
    p
}

/// Runs `scim2 … test` against `url` with `token`; returns whether it passed, and its report.
fn run(url: &str, token: &str) -> (bool, String) {
    let out = Command::new(scim2())
        .args(["--url", url])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .arg("test")
        .env("NO_COLOR", "1")
        .output()
        .expect("scim2 runs");
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), report)
}

async fn passes_the_checker(backend: Backend) {
    let w = World::start(backend).await;
    let token = w.scim_token(&w.aowner, "alpha").await;
    let url = format!("{}/scim/v2", w.app.base);
    let t = token.clone();
    let (ok, report) = tokio::task::spawn_blocking(move || run(&url, &t))
        .await
        .unwrap();
    let checks = report.lines().filter(|l| l.starts_with("SUCCESS ")).count();
    assert!(
        ok,
        "scim2-tester found Coffer's SCIM breaking RFC 7643/7644 ({backend:?}):\n{report}"
    );
    assert!(checks > 50, "only {checks} checks ran:\n{report}");
    println!("{backend:?}: scim2-tester: {checks} checks, all SUCCESS");
    // The checker cleaned up after itself: alpha's members are what they were.
    assert_eq!(
        w.members(&w.aowner, "alpha").await,
        [
            ("amember".to_owned(), "member".to_owned()),
            ("aowner".to_owned(), "owner".to_owned())
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scim2_tester_passes_sqlite() {
    passes_the_checker(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scim2_tester_passes_postgres() {
    passes_the_checker(Backend::Postgres).await;
}
