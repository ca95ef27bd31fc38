//! Test support that tests in several crates and the benchmark share: a throwaway PostgreSQL
//! database ([`pg`]), the large-catalog filler ([`fill`]), a real OpenID provider ([`oidc`]),
//! a stateful fake of Jira Cloud and Data Center ([`jira`]: OAuth, permissions, issues, remote
//! links, webhooks, failures) and a second, independent Jira DC peer ([`jira820`], PyPI
//! `jira820`, for issue and remote-link shapes), RSA keys for tests that sign JWTs ([`rsa`]), a
//! fault-injecting TCP proxy to put between Coffer and its peers ([`fault_proxy`]), a private
//! PostgreSQL cluster a test may crash and restart ([`pg_cluster`]), and the entry points of the
//! cargo-fuzz targets ([`fuzz`]).
//! Compiled for this crate's tests and under the
//! `testing` feature (which the integration tests, the CLI's tests and the benchmark turn on),
//! never into the release binary, like the seams' conformance suites.

pub mod fault_proxy;
pub mod fill;
pub mod fuzz;
pub mod jira;
pub mod jira820;
pub mod oidc;
pub mod pg;
pub mod pg_cluster;
pub mod rsa;
