//! End-to-end tests of the `coffer` binary against the real server: every test that needs one
//! starts its own `coffer serve` subprocess (own temp data dir, port 0, see [`support`]) and
//! drives the CLI as a user would, checking exit codes and the exact bytes on stdout.

#[path = "../support/mod.rs"]
mod support;

mod access;
mod backup;
/// The TLS tests' certificates (rcgen), shared with the server's tests.
#[path = "../../../server/tests/support/certs.rs"]
#[allow(dead_code)]
mod certs;
mod clipboard;
mod completions;
mod generate;
mod import_export;
mod keys;
mod links;
/// The moto harness of the server's AWS tests (KMS, STS, IAM), shared rather than copied.
#[path = "../../../server/tests/support/moto.rs"]
#[allow(dead_code)]
mod moto;
mod recovery;
mod run_file;
mod scim;
mod secrets;
mod sso;
mod storage;
mod tls;
mod webhooks;
