//! Coffer's server library: everything `coffer serve` runs, as a library so tests and the
//! benchmark can start the real application in-process on port 0.
//!
//! Layers only point down: [`http`] (thin handlers) → [`service`] (use cases, the only place
//! that combines parts) → [`policy`](domain::policy), [`keys`], [`blob`], [`catalog`], [`audit`]
//! → `coffer-envelope` (pure crypto). [`domain`] holds the parsed newtypes every layer shares and
//! imports nothing from the seams. Each seam is one narrow trait with its contract written on it,
//! one module per backend, one `open_*` function that builds it, and one conformance suite that
//! every backend runs.

#![forbid(unsafe_code)]

pub mod audit;
pub mod aws;
pub mod backup;
pub mod blob;
pub mod catalog;
pub mod config;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod keys;
pub mod manifest;
pub mod metrics;
pub mod service;
pub mod startup;
pub mod sweeper;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
