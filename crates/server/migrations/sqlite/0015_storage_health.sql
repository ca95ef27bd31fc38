-- Coffer catalog, SQLite, migration 15: the health of each org's own bucket, as the background
-- drift checks last saw it (`storage.probe_interval`). Forward-only: never edit an applied
-- migration; add a new file.
--
-- One row per storage location that has been checked (no row: not checked yet). `status` is
-- changed only by a check-and-set in the transaction that also appends the `storage.degraded` /
-- `storage.recovered` audit event, so any number of nodes probing the same bucket record each
-- transition once. `failing_step` and `detail` describe the failure while `degraded` (the detail
-- is a sentence with the fix, never a transport error); `since` is when the current status began;
-- `warnings` is a JSON array of {"step", "detail"} (e.g. a missing CORS rule) that never degrades.

CREATE TABLE storage_health (
    storage_id   BLOB PRIMARY KEY REFERENCES storage_locations(id),
    status       TEXT NOT NULL CHECK (status IN ('ok', 'degraded')),
    failing_step TEXT,
    detail       TEXT,
    since        INTEGER NOT NULL,
    checked_at   INTEGER NOT NULL,
    warnings     TEXT NOT NULL DEFAULT '[]'
) STRICT;
