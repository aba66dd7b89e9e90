#!/bin/sh
# install-cni: runs as an init container of tortie-node. Writes to the host:
#   /opt/cni/bin/tortie, /opt/cni/bin/tortie-ipam   small wrappers that exec the plugin
#   /opt/cni/bin/tortie.d/                          the Node.js runtime and the compiled plugin
#   /opt/cni/bin/portmap                            the other plugins the conflist chains (image's cni/)
#   /etc/cni/net.d/10-tortie.conflist               from $CNI_NETWORK_CONFIG with values filled in
# Each file is written to a temporary name and renamed, so kubelet never sees half a file.
set -eu
BIN_DIR=${CNI_BIN_DIR:-/host/opt/cni/bin}
NET_DIR=${CNI_NET_DIR:-/host/etc/cni/net.d}
SRC=${TORTIE_HOME:-/opt/tortie}

mkdir -p "$BIN_DIR/tortie.d.new" "$NET_DIR"
cp "$(command -v node)" "$BIN_DIR/tortie.d.new/node"
cp -R "$SRC/dist" "$SRC/node_modules" "$SRC/package.json" "$BIN_DIR/tortie.d.new/"
rm -rf "$BIN_DIR/tortie.d.old"
[ -d "$BIN_DIR/tortie.d" ] && mv "$BIN_DIR/tortie.d" "$BIN_DIR/tortie.d.old"
mv "$BIN_DIR/tortie.d.new" "$BIN_DIR/tortie.d"
rm -rf "$BIN_DIR/tortie.d.old"
for name in tortie tortie-ipam; do
  role=main; [ "$name" = tortie-ipam ] && role=ipam
  # The plugin's only TLS connection (etcd, for a DEL while tortie-node is down) takes its CA from
  # etcd_ca_cert_file: NODE_EXTRA_CA_CERTS (if the runtime's environment has it) would only make
  # Node parse every CA certificate at start-up, ~35 ms per pod on a small host.
  printf '#!/bin/sh\nunset NODE_EXTRA_CA_CERTS\nTORTIE_CNI_ROLE=%s exec /opt/cni/bin/tortie.d/node /opt/cni/bin/tortie.d/dist/agent/cni/tortie-cni.cjs "$@"\n' "$role" \
    > "$BIN_DIR/.$name.tmp"
  chmod 0755 "$BIN_DIR/.$name.tmp"
  mv "$BIN_DIR/.$name.tmp" "$BIN_DIR/$name"
done

# Chained plugins the conflist names (portmap), as Calico's install-cni copies its own: an existing
# host binary is replaced unless UPDATE_CNI_BINARIES=false; SKIP_CNI_BINARIES lists names to leave out.
if [ -d "$SRC/cni" ]; then
  for plugin in "$SRC"/cni/*; do
    [ -f "$plugin" ] || continue
    name=$(basename "$plugin")
    case ",${SKIP_CNI_BINARIES:-}," in *",$name,"*) continue ;; esac
    [ "${UPDATE_CNI_BINARIES:-true}" = false ] && [ -e "$BIN_DIR/$name" ] && continue
    cp "$plugin" "$BIN_DIR/.$name.tmp"
    chmod 0755 "$BIN_DIR/.$name.tmp"
    mv "$BIN_DIR/.$name.tmp" "$BIN_DIR/$name"
  done
fi

mtu=${CNI_MTU:-0}
[ "$mtu" = "0" ] && mtu=0
conf=$(printf '%s' "${CNI_NETWORK_CONFIG:?CNI_NETWORK_CONFIG is not set}" \
  | sed -e "s|__ETCD_ENDPOINTS__|${ETCD_ENDPOINTS:-}|g" \
        -e "s|__ETCD_CA_CERT_FILE__|${ETCD_CA_CERT_FILE:-}|g" \
        -e "s|__ETCD_CERT_FILE__|${ETCD_CERT_FILE:-}|g" \
        -e "s|__ETCD_KEY_FILE__|${ETCD_KEY_FILE:-}|g" \
        -e "s|__CNI_MTU__|$mtu|g")
printf '%s\n' "$conf" > "$NET_DIR/.10-tortie.conflist.tmp"
mv "$NET_DIR/.10-tortie.conflist.tmp" "$NET_DIR/10-tortie.conflist"
echo "install-cni: wrote $BIN_DIR/tortie, $BIN_DIR/tortie-ipam and $NET_DIR/10-tortie.conflist"
