#!/usr/bin/env bash
# Installs what Tortie's lab, tests and benchmarks need on a fresh Debian 12 machine:
# the Debian packages of the real peers and tools, then the npm packages, then a build.
# Idempotent: skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(bird2 frr gobgpd exabgp etcd-server etcd-client iptables nftables ipset iperf3 tcpdump
      iputils-ping conntrack iproute2 procps python3 make g++)
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
# BIRD 1.6 (calico-node's BGP daemon is a fork of 1.6.8) for the migration tests: Debian's `bird`
# package conflicts with bird2, so it is unpacked beside it (test/helpers/calico-bird.ts finds it).
if [ ! -x /opt/bird16/usr/sbin/bird ]; then
  echo "setup: unpacking Debian's bird (1.6) into /opt/bird16" >&2
  tmp=$(mktemp -d); chmod 755 "$tmp"
  # a fresh machine may have no package lists yet when every other package was already there
  (cd "$tmp" && { apt-get download -q bird >&2 || { apt-get update -q >&2 && apt-get download -q bird >&2; }; }) \
    && mkdir -p /opt/bird16 && dpkg -x "$tmp"/bird_*.deb /opt/bird16
  rm -rf "$tmp"
fi
# Installing the packages must not leave daemons running that would take our ports.
for svc in bird frr etcd; do
  if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
done

# npm ci empties node_modules first: never run it through a symlinked node_modules (a git
# worktree sharing another checkout's), and only when the installed tree does not match the
# lockfile (npm's own record of it, node_modules/.package-lock.json), not merely when older.
lock_matches() {
  [ -f node_modules/.package-lock.json ] && node -e '
    const want = require("./package-lock.json").packages ?? {};
    const have = require("./node_modules/.package-lock.json").packages ?? {};
    const stale = Object.entries(want).filter(([k, v]) => k !== "" && !v.optional && have[k]?.version !== v.version);
    process.exit(stale.length === 0 ? 0 : 1);' 2>/dev/null
}
if [ -L node_modules ]; then
  echo "setup: node_modules is a symlink (shared with $(readlink node_modules)); not running npm ci" >&2
elif [ ! -d node_modules ] || ! lock_matches; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
# The native helper (TCP-MD5, TTL/GTSM, TUN) is built before the TypeScript build, whose bundle
# step copies it into dist/native/.
bash scripts/build-native.sh
echo "setup: building" >&2
npm run -s build >&2
