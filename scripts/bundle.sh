#!/usr/bin/env bash
# After tsc: the shipped entry points that start often or stay resident, each bundled by esbuild
# into one CommonJS file (no module resolution at start, less source kept in V8's heap):
#   tortie-cni.cjs    the CNI plugin, started once per pod (start-up is pod start-up); datastore-release.js
#                     (the etcd client, for a DEL while tortie-node is down) stays outside it, loaded on that path only
#   tortie-bgpd.cjs   the BGP daemon: idle RSS 67 -> 58 MB with --no-warmup (bench/bgp/run.js notes)
#   tortie-bgpctl.cjs its CLI
#   tortie-bfd-worker.cjs the daemon's BFD worker thread (bgp/bfd/worker-main.ts), found beside the daemon
#   tortie-bfd.cjs    tortie-node's BFD process (bgp/bfd/sidecar-main.ts): the DaemonSet's second container,
#                     or started by the agent (agent/node/bfd-process.ts finds it beside the unbundled sources)
# Whitespace and syntax are minified for the daemons, identifiers kept (readable stack traces).
set -euo pipefail
cd "$(dirname "$0")/.."
# import.meta.url keeps meaning "this file" inside a CommonJS bundle (common/native finds its .node by it).
common=(--bundle --platform=node --format=cjs --target=node20 --log-level=warning
        --inject:scripts/import-meta-url.js --define:import.meta.url=importMetaUrl)
npx esbuild dist/agent/cni/main.js "${common[@]}" --external:./datastore-release.js --outfile=dist/agent/cni/tortie-cni.cjs
# netlink (a native addon, found by node-gyp-build from its own directory) stays in node_modules;
# the daemon loads it only for a `kernel` section.
npx esbuild dist/bgp/bgpd/main.js "${common[@]}" --external:netlink --log-override:empty-import-meta=silent --minify-whitespace --minify-syntax --outfile=dist/bgp/bgpd/tortie-bgpd.cjs
npx esbuild dist/bgp/bfd/worker-main.js "${common[@]}" --minify-whitespace --minify-syntax --outfile=dist/bgp/bgpd/tortie-bfd-worker.cjs
npx esbuild dist/bgp/bfd/sidecar-main.js "${common[@]}" --minify-whitespace --minify-syntax --outfile=dist/bgp/bfd/tortie-bfd.cjs
npx esbuild dist/bgp/bgpd/ctl-main.js "${common[@]}" --minify-whitespace --minify-syntax --outfile=dist/bgp/bgpd/tortie-bgpctl.cjs
# The native helper (scripts/build-native.sh), next to the bundles: dist/native/tortie_native.node.
if [ -f common/native/build/Release/tortie_native.node ]; then
  mkdir -p dist/native && cp common/native/build/Release/tortie_native.node dist/native/
fi
chmod 0755 dist/agent/cni/tortie-cni.cjs dist/bgp/bfd/tortie-bfd.cjs dist/bgp/bgpd/tortie-bgpd.cjs dist/bgp/bgpd/tortie-bgpctl.cjs
