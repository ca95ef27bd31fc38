//! `coffer group …`, `coffer grant …`: who may use which secrets (docs/access.md). A principal is
//! `user:NAME`, `svc:NAME` or `group:NAME`; a scope is `*`, a project key or an issue key.

use clap::{Subcommand, ValueEnum};
use uuid::Uuid;

/// An access level as typed on the command line.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    /// List, read metadata and reveal.
    Read,
    /// Also write new versions, delete and restore.
    Write,
    /// Also share and grant, up to this level.
    Manage,
}

/// `coffer group …`.
#[derive(Subcommand)]
pub enum GroupCommand {
    /// List the org's groups and their members.
    List,
    /// Create a group (owners and admins).
    Create {
        /// Name, e.g. `dba`.
        name: String,
    },
    /// Delete a group, with every grant and share to it.
    Delete {
        /// Name.
        name: String,
    },
    /// Add a member: `user:NAME` or `svc:NAME` (a bare NAME means `user:NAME`).
    Add {
        /// The group.
        group: String,
        /// Who.
        member: String,
    },
    /// Remove a member.
    Rm {
        /// The group.
        group: String,
        /// Who.
        member: String,
    },
}

/// `coffer grant …`.
#[derive(Subcommand)]
pub enum GrantCommand {
    /// List every grant of the org (owners and admins).
    List,
    /// Grant access to every secret of a scope: `*` (the whole org), a project (`OPS`) or an
    /// issue (`OPS-123`). Granting again changes the level.
    Add {
        /// `*`, a project key or an issue key.
        scope: String,
        /// `user:NAME`, `svc:NAME` or `group:NAME`.
        to: String,
        /// What it gives.
        #[arg(long, value_enum)]
        level: LevelArg,
    },
    /// Revoke a grant by its id (from `coffer grant list`).
    Rm {
        /// The grant's id.
        id: Uuid,
    },
}
