//! Tenancy as an attacker tries it: chains of calls by an admin of one org (bravo) aimed at
//! another org (alpha), at the operator, and at roles above their own — each chain a black-box
//! test against the real app on port 0, on the SQLite catalog and on PostgreSQL — plus a
//! generated test that throws random sequences of every state-changing operation in the OpenAPI
//! document at the same world and checks the invariant after every step
//! (docs/threat-model.md, "Identity and tenancy").

#[path = "../support/backend.rs"]
#[allow(dead_code)]
mod backend;
#[path = "../support/app.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "../support/mod.rs"]
mod support;

mod access;
mod chains;
mod generated;
mod world;
