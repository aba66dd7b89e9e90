#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds (type errors fail the run), then runs
# every test with node's test runner. Topology tests need root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rm -rf dist/test
npm run -s build
files=$(find dist/test -name '*.test.js' | sort)
exec node --test --test-concurrency="${TEST_CONCURRENCY:-2}" --test-timeout="${TEST_TIMEOUT_MS:-300000}" $files
