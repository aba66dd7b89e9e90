#!/usr/bin/env bash
# Installs what Tortie's lab, tests and benchmarks need on a fresh Debian 12 machine:
# the Debian packages of the real peers and tools, then the npm packages, then a build.
# Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(bird2 frr gobgpd exabgp etcd-server etcd-client iptables nftables ipset iperf3 tcpdump
      iputils-ping conntrack iproute2 procps)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
# Installing the packages must not leave daemons running that would take our ports.
for svc in bird frr etcd; do
  if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
done

# npm ci only when node_modules does not match the lockfile (by content, not mtime: a fresh
# checkout is newer than an installed tree that still matches). A symlinked node_modules (a git
# worktree sharing another checkout's packages) is never reinstalled: npm ci would empty the target.
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -L node_modules ]; then
  :
elif [ ! -d node_modules ] || [ "$(cat node_modules/.tortie-lock.sha256 2>/dev/null)" != "$lock_sum" ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
  echo "$lock_sum" > node_modules/.tortie-lock.sha256
fi
echo "setup: building" >&2
npx tsc -p tsconfig.json >&2
