//! End-to-end tests of the `coffer` binary against the real server: every test starts its own
//! `coffer serve` subprocess (own temp data dir, port 0, see [`support`]) and drives the CLI as
//! a user would, checking exit codes and the exact bytes on stdout.

mod support;

#[path = "e2e/access.rs"]
mod access;
#[path = "e2e/keys.rs"]
mod keys;
/// The moto harness of the server's AWS tests (KMS, STS, IAM), shared rather than copied.
#[path = "../../server/tests/support/moto.rs"]
#[allow(dead_code)]
mod moto;
#[path = "e2e/secrets.rs"]
mod secrets;
#[path = "e2e/storage.rs"]
mod storage;
