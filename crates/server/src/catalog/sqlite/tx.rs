//! What a write runs on: the writer thread's connection inside its open transaction, plus the
//! head of each org's audit chain as the writer last wrote it.
//!
//! Appending an audit event needs the chain's head (its last `seq` and `hash`). Reading it back
//! with a `SELECT … ORDER BY seq DESC LIMIT 1` per event was ~2% of all CPU at full reveal load
//! (docs/performance.md), and one thread owns every write to the file
//! ([`super::process_lock`], [`super::writer`]), so the writer can remember what it wrote.
//!
//! The one rule that keeps that memory true: **it only ever forgets**. A head is remembered
//! after its `INSERT` succeeded; whenever any of the writer's work is rolled back (a request
//! that fails inside its SAVEPOINT, a group rolled back whole, a COMMIT that fails) the writer
//! calls [`Tx::forget_heads`] and the next append reads the head from the file again. A head it
//! remembers is therefore either committed or inside the transaction still open, which is the
//! same thing the `SELECT` would have seen.

use crate::domain::OrgId;
use rusqlite::Connection;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Deref;

/// An org's audit chain head: the last event's sequence number and hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Head {
    pub seq: u64,
    pub hash: [u8; 32],
}

/// Most heads remembered; past it the writer forgets them all and starts again (an org's head
/// costs one `SELECT` to read back, so only memory is at stake).
const MAX_HEADS: usize = 10_000;

/// The chain heads the writer has written, by org (see the module docs for when it forgets).
#[derive(Default)]
pub(super) struct Heads(RefCell<HashMap<OrgId, Head>>);

/// The writer's connection in an open transaction, with the chain heads it remembers. It
/// dereferences to the connection, so code that only reads or writes rows takes `&Connection`.
pub struct Tx<'a> {
    conn: &'a Connection,
    heads: &'a Heads,
}

impl<'a> Tx<'a> {
    pub(super) fn new(conn: &'a Connection, heads: &'a Heads) -> Self {
        Self { conn, heads }
    }

    /// The head of `org`'s chain if this writer remembers it; `None` means "read the file".
    pub(super) fn head(&self, org: OrgId) -> Option<Head> {
        self.heads.0.borrow().get(&org).copied()
    }

    /// Remembers `head` as `org`'s chain head; call only after its event's `INSERT` succeeded.
    pub(super) fn remember_head(&self, org: OrgId, head: Head) {
        let mut heads = self.heads.0.borrow_mut();
        if heads.len() >= MAX_HEADS && !heads.contains_key(&org) {
            heads.clear();
        }
        heads.insert(org, head);
    }

    /// Forgets every head: some work of this transaction (or all of it) was rolled back.
    pub(super) fn forget_heads(&self) {
        self.heads.0.borrow_mut().clear();
    }
}

impl Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

#[cfg(test)]
mod tests;
