//! Scale-out (issue 5): two real `coffer serve` processes on different ports sharing one
//! PostgreSQL database and one S3 bucket (on moto) behave as one service.
//!
//! Each test starts its own cluster ([`cluster::Cluster`]): a fresh database `coffer_mn_<random>`
//! (dropped afterwards, also on panic), a fresh bucket on the moto server this binary shares, one
//! master key file every node's `keys.master_key_file` points at, and a `coffer.toml`, data
//! directory and port per node. Nodes are killed when the cluster drops. PostgreSQL on
//! 127.0.0.1:5432 (or `COFFER_TEST_PG_URL`) and moto (`scripts/test.sh` installs it) are
//! required: without them the tests fail with instructions, they never skip.
//!
//! | file | proves |
//! | --- | --- |
//! | `multinode/data.rs` | reveal across nodes, check-and-set races → 409 and no lost version, view limits under racing reveals, one audit chain |
//! | `multinode/access.rs` | token revocation and suspension/restore reach every node within 1 s; racing starts bootstrap once |
//! | `multinode/crash.rs` | a node killed mid-write blocks no writer on the other and loses no acknowledged write |
//! | `multinode/ops.rs` | both orphan sweepers are safe; an unreachable catalog is retried, then `serve` exits naming the URL without its password |
//! | `multinode/outage.rs` | brief PostgreSQL and S3 outages answer 503 + `Retry-After`, `/readyz` tracks the catalog, nothing is lost |

#[allow(dead_code)] // the server's moto harness has more than these tests use
#[path = "../../../server/tests/support/moto.rs"]
mod moto;

mod api;
mod cluster;
mod node;
/// The throwaway-database harness of the server's PostgreSQL tests, shared rather than copied.
use coffer_server::testing::pg;
mod proxy;

mod access;
mod crash;
mod data;
mod ops;
mod outage;
