#!/usr/bin/env bash
# Builds common/native (TCP-MD5, IP_TTL/IP_MINTTL, TUN: calls Node.js does not expose) with the
# node-gyp that ships inside npm, against the Node headers installed with node itself (--nodedir),
# so nothing is downloaded. Idempotent: skips when the .node is newer than its sources.
# Fails loudly: sessions with a password or TTL settings cannot work without it.
set -euo pipefail
cd "$(dirname "$0")/../common/native"
out=build/Release/tortie_native.node
if [ -f "$out" ] && [ -z "$(find . -maxdepth 1 \( -name '*.c' -o -name '*.h' -o -name binding.gyp \) -newer "$out")" ]; then
  echo "build-native: $out is up to date" >&2; exit 0
fi
node_bin=$(readlink -f "$(command -v node)")
nodedir=${TORTIE_NODEDIR:-$(dirname "$(dirname "$node_bin")")}
[ -f "$nodedir/include/node/node_api.h" ] || nodedir=/usr
if [ ! -f "$nodedir/include/node/node_api.h" ]; then
  echo "build-native: no Node headers (looked for include/node/node_api.h under $(dirname "$(dirname "$node_bin")") and /usr; set TORTIE_NODEDIR)" >&2; exit 1
fi
npm_root=$(npm root -g)
gyp=""
for c in "$npm_root/npm/node_modules/node-gyp/bin/node-gyp.js" /usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js \
         /usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js /usr/share/nodejs/node-gyp/bin/node-gyp.js; do
  if [ -f "$c" ]; then gyp=$c; break; fi
done
if [ -z "$gyp" ]; then echo "build-native: node-gyp not found (it ships with npm under $npm_root/npm/node_modules/node-gyp)" >&2; exit 1; fi
for t in python3 make cc; do
  command -v "$t" >/dev/null || { echo "build-native: $t is missing (apt-get install python3 make g++)" >&2; exit 1; }
done
echo "build-native: node-gyp rebuild --nodedir=$nodedir" >&2
if ! node "$gyp" rebuild --nodedir="$nodedir" --loglevel=warn >&2; then
  echo "build-native: FAILED to build common/native/$out" >&2; exit 1
fi
echo "build-native: built common/native/$out" >&2
