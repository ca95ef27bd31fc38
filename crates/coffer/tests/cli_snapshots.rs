//! Snapshot tests of the command-line surface that need no server: help texts, usage errors and
//! the unreachable-server message. Each case is a `tests/cmd/*.toml` file holding the arguments,
//! the expected exit code and the exact stdout/stderr. Every case runs with an empty environment
//! so a developer's COFFER_* variables or terminal width cannot change the output.
//!
//! After an intended change of the CLI surface, refresh the snapshots with
//! `TRYCMD=overwrite cargo test -p coffer --test cli_snapshots` and review the diff.

#[test]
fn cli_surface() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}
