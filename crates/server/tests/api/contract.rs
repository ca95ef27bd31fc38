//! The OpenAPI document is a contract, and schemathesis holds the server to it: it generates
//! requests from the document (valid ones, and invalid ones by breaking each constraint) and
//! checks every answer's status, content type, headers and body against the document, that
//! schema-valid requests are accepted and schema-invalid ones refused, and that no request makes
//! a server error. Every check runs (schemathesis's default is all of them; `--checks all` on the
//! command line would also override the exceptions): the operations whose acceptance depends on
//! more than a schema can say are listed, with why, in `schemathesis.toml` beside this file.
//!
//! schemathesis comes from `COFFER_SCHEMATHESIS`, else `.venv-schemathesis/bin/schemathesis` (what
//! `scripts/test.sh` installs); without it the test fails, never skips. The seed is fixed, so a
//! failure reproduces.

use super::helpers::spawn_with;
use std::path::{Path, PathBuf};
use std::process::Command;

fn schemathesis() -> PathBuf {
    let p = std::env::var_os("COFFER_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv-schemathesis/bin/schemathesis")
        });
    assert!(
        p.is_file(),
        "schemathesis is not at {}: run scripts/test.sh (it installs it into .venv-test), or set \
         COFFER_SCHEMATHESIS to its path",
        p.display()
    );
    p
}

/// Runs schemathesis as the holder of `token` and returns whether it passed, and its report.
fn run(base: &str, token: &str, work: &Path) -> (bool, String) {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/schemathesis.toml");
    let out = Command::new(schemathesis())
        .arg("--no-color")
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{base}/api/v1/openapi.json")])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "25", "--seed", "20261206"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .current_dir(work)
        .env_remove("SCHEMATHESIS_HOOKS")
        .output()
        .expect("schemathesis runs");
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), report)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_keeps_its_openapi_contract() {
    // Webhooks schemathesis adds point at made-up hosts: this app delivers nothing.
    let app = spawn_with(|c| c.webhooks.interval = std::time::Duration::ZERO).await;
    // Something to find: a secret on an issue, so list, history and reveal reach real rows.
    let put = app.put_secret("OPS-1", "db-password", b"hunter2").await;
    assert!(put.status.is_success(), "{}", put.body);
    let work = tempfile::tempdir().unwrap();
    // As an org owner (every org operation), then as the operator (the deployment's own).
    for (who, token) in [
        ("owner", app.token.clone()),
        ("operator", app.operator.clone()),
    ] {
        let base = app.base.clone();
        let dir = work.path().to_owned();
        let (ok, report) = tokio::task::spawn_blocking(move || run(&base, &token, &dir))
            .await
            .unwrap();
        assert!(
            ok,
            "schemathesis found the server breaking its contract as the {who}:\n{report}"
        );
        assert!(
            !report.contains(&app.token) && !report.contains(&app.operator),
            "the report shows a token"
        );
    }
}
