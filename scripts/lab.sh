#!/usr/bin/env bash
# The README's first command (`npm run lab`): installs what the lab needs (scripts/setup.sh:
# Debian packages, npm ci, build), then `tortie-lab up` with the given options, e.g.
#   npm run lab -- --nodes 4 --tor bird
# A lab left over from an earlier run is taken down first. Other verbs pass through:
#   npm run lab -- check | status | down
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "lab: needs root (it makes network namespaces); run it as root" >&2
  exit 1
fi
bash scripts/setup.sh
case "${1:-up}" in
  check|status|down) exec node dist/agent/lab/main.js "$@" ;;
  up) shift || true ;;
esac
node dist/agent/lab/main.js down >/dev/null
exec node dist/agent/lab/main.js up "$@"
