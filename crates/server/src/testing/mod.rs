//! Test support that tests in several crates and the benchmark share: a throwaway PostgreSQL
//! database ([`pg`]) and the large-catalog filler ([`fill`]). Compiled for this crate's tests and
//! under the `testing` feature (which the integration tests, the CLI's tests and the benchmark
//! turn on), never into the release binary, like the seams' conformance suites.

pub mod fill;
pub mod pg;
