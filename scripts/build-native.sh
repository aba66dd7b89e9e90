#!/usr/bin/env bash
# Builds the native helper (common/native: the setsockopt and ioctl calls Node.js lacks) with the
# node-gyp that ships with npm, against the Node headers installed on this machine (--nodedir),
# so nothing is downloaded. Skips the build when the addon is newer than every source.
set -euo pipefail
cd "$(dirname "$0")/../common/native"
out=build/Release/tortie_native.node
if [ -f "$out" ] && [ -z "$(find . -maxdepth 1 \( -name '*.c' -o -name '*.h' -o -name binding.gyp \) -newer "$out")" ]; then
  exit 0
fi
nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
if [ ! -f "$nodedir/include/node/node_api.h" ]; then
  echo "build-native: no Node headers under $nodedir/include/node (Debian: apt-get install libnode-dev or nodejs headers)" >&2
  exit 1
fi
gyp="$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js"
if [ ! -f "$gyp" ]; then echo "build-native: node-gyp not found at $gyp (it ships with npm)" >&2; exit 1; fi
echo "build-native: building $out against $nodedir/include/node" >&2
node "$gyp" rebuild --nodedir="$nodedir" --loglevel=warn >&2
