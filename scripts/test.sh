#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds (type errors fail the run), then runs
# every test with node's test runner. Topology tests need root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist/test # no stale compiled tests of deleted sources
bash scripts/setup.sh # ends with the build
files=$(find dist/test -name '*.test.js' | sort)
exec node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout="${TEST_TIMEOUT_MS:-300000}" $files
