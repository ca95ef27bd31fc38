//! One process per SQLite catalog. The catalog holds an exclusive lock on `<file>.lock` for as
//! long as it is open; a second `coffer serve` on the same data directory is refused with a
//! message saying so instead of starting.
//!
//! Why: the read cache ([`super::read_cache`]) trusts that every write to the file goes through
//! this process's writer thread. A second process writing the same file would, for example,
//! revoke a token this process still accepts. The embedded catalog serves one node; several
//! nodes share a PostgreSQL catalog. The lock is `flock(2)` (std's `File::try_lock`) on a separate
//! file, so it never meets the POSIX record locks SQLite takes on the database itself, and the
//! kernel releases it when the process dies, `kill -9` included.

use crate::catalog::CatalogError;
use std::fs::{File, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long opening waits for a previous holder in this process or another to let go (a
/// restart racing the old instance's shutdown) before giving up.
const WAIT: Duration = Duration::from_secs(3);

/// The held lock; dropping it releases the catalog.
pub(super) struct ProcessLock {
    _file: File,
}

/// Takes the exclusive lock for the catalog at `db`, waiting up to [`WAIT`].
pub(super) fn acquire(db: &Path) -> Result<ProcessLock, CatalogError> {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let path = Path::new(&name);
    let file = super::open_private(path)?;
    let deadline = Instant::now() + WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(ProcessLock { _file: file }),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(CatalogError::Unavailable(format!(
                    "the catalog {} is in use by another coffer process; stop that one first, \
                     or give this one its own --data-dir (an embedded SQLite catalog serves one \
                     node; several nodes share a PostgreSQL catalog)",
                    db.display()
                )));
            }
            Err(TryLockError::Error(e)) => {
                return Err(CatalogError::Unavailable(format!(
                    "locking {}: {e}",
                    path.display()
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("catalog.db");
        let first = acquire(&db).unwrap();
        let err = acquire(&db).err().expect("a second holder must be refused");
        assert!(
            err.to_string().contains("in use by another coffer process"),
            "{err}"
        );
        drop(first);
        acquire(&db).expect("free again once the first holder is gone");
    }
}
