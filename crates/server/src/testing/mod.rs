//! Test support that tests in several crates and the benchmark share: a throwaway PostgreSQL
//! database ([`pg`]), the large-catalog filler ([`fill`]) and a real OpenID provider ([`oidc`]). Compiled for this crate's tests and
//! under the `testing` feature (which the integration tests, the CLI's tests and the benchmark
//! turn on), never into the release binary, like the seams' conformance suites.

pub mod fill;
pub mod oidc;
pub mod pg;
