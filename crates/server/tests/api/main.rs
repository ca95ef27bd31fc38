//! Black-box tests of the HTTP API: each test starts the real app on port 0 with its own data
//! directory and talks to it over HTTP, like any client would.

mod access;
mod audit;
mod backup;
mod bad_input;
mod contract;
mod fill;
mod hardening;
#[path = "../support/app.rs"]
mod helpers;
mod keys;
mod recovery;
mod secrets;
mod startup;
#[path = "../support/mod.rs"]
mod support;
mod uploads;
mod uploads_bucket;
mod uploads_refused;
