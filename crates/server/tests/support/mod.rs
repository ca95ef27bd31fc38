//! Shared harness for the integration tests that talk to real peers. Each test binary includes
//! it with `mod support;` and uses only the parts it needs.

#![allow(dead_code)] // each test binary uses a different subset

pub mod kms;
pub mod moto;
pub mod seaweed;
