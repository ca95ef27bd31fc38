//! `coffer serve` with `[server.tls]` (certificates made by the test with rcgen) and the CLI over
//! HTTPS: `COFFER_CA_CERT` / `--ca-cert` trust the test CA, without it (or with another CA) the
//! command fails saying why, plain HTTP on the port is answered with what to do, and `kill -HUP`
//! makes the running server serve a new certificate.

use crate::certs::TestCa;
use crate::support::{self, Server};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `coffer whoami` against `s` with `COFFER_CA_CERT` set to `ca` (unset when `None`).
fn whoami(s: &Server, ca: Option<&Path>) -> support::Run {
    let mut cmd = s.cmd();
    cmd.env_remove("COFFER_CA_CERT");
    if let Some(ca) = ca {
        cmd.env("COFFER_CA_CERT", ca);
    }
    support::run(cmd.arg("whoami"), b"")
}

#[test]
fn the_cli_trusts_the_ca_it_is_given_and_sighup_reloads_the_certificate() {
    let certs = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Coffer Test CA");
    let ca_file = ca.write(certs.path(), "ca.pem");
    let (cert, key) = ca.leaf("coffer test 1").write(certs.path());
    let s = Server::start_with_env(&[
        ("COFFER_SERVER__TLS__CERT_FILE", cert.to_str().unwrap()),
        ("COFFER_SERVER__TLS__KEY_FILE", key.to_str().unwrap()),
    ]);
    assert!(s.addr.starts_with("https://127.0.0.1:"), "{}", s.addr);

    let who = whoami(&s, Some(&ca_file)).ok().stdout();
    assert!(who.starts_with("admin (person) in org default"), "{who}");
    // --ca-cert says the same as the variable.
    let flag = support::run(
        s.cmd()
            .env_remove("COFFER_CA_CERT")
            .args(["whoami", "--ca-cert"])
            .arg(&ca_file),
        b"",
    );
    assert!(flag.ok().stdout().starts_with("admin (person)"));

    // Without the CA, or with another: refused, saying it is the certificate and what to do.
    let other = TestCa::new("Some Other CA").write(certs.path(), "other.pem");
    for ca in [None, Some(other.as_path())] {
        let run = whoami(&s, ca).expect_code(1);
        let err = run.stderr();
        assert!(
            err.contains(&format!("TLS with Coffer at {} failed", s.addr))
                && err.contains("not signed by a CA this machine trusts")
                && err.contains("COFFER_CA_CERT"),
            "{ca:?}: {err}"
        );
        assert!(run.stdout().is_empty());
    }

    // A CA file that cannot be used is named.
    let missing = certs.path().join("missing.pem");
    let err = whoami(&s, Some(&missing)).expect_code(1).stderr();
    assert!(
        err.contains("cannot read the CA certificate file") && err.contains("missing.pem"),
        "{err}"
    );
    let not_pem = certs.path().join("not-pem.txt");
    std::fs::write(&not_pem, "hello\n").unwrap();
    let err = whoami(&s, Some(&not_pem)).expect_code(1).stderr();
    assert!(err.contains("holds no certificate"), "{err}");

    // http:// to the HTTPS port: the server's 400 says what to do.
    let plain = s.addr.replace("https://", "http://");
    let err = support::run(
        s.cmd()
            .env("COFFER_ADDR", &plain)
            .env("COFFER_CA_CERT", &ca_file)
            .arg("whoami"),
        b"",
    )
    .expect_code(1)
    .stderr();
    assert!(
        err.contains("400 Bad Request") && err.contains("use https://"),
        "{err}"
    );

    // A certificate from another CA, then `kill -HUP`: new connections get it, and the
    // server keeps running.
    let ca2 = TestCa::new("Coffer Test CA 2");
    let ca2_file = ca2.write(certs.path(), "ca2.pem");
    ca2.leaf("coffer test 2").write_to(&cert, &key);
    let hup = Command::new("kill")
        .args(["-HUP", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while whoami(&s, Some(&ca2_file)).code() != 0 {
        assert!(
            Instant::now() < deadline,
            "the new certificate is not served"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let err = whoami(&s, Some(&ca_file)).expect_code(1).stderr();
    assert!(
        err.contains("not signed by a CA this machine trusts"),
        "{err}"
    );

    // A SIGHUP with files that cannot be served keeps the certificate in use.
    std::fs::write(&cert, "not a certificate\n").unwrap();
    assert!(
        Command::new("kill")
            .args(["-HUP", &s.pid().to_string()])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(500));
    whoami(&s, Some(&ca2_file)).ok();
}
