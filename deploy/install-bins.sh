#!/bin/sh
# The image's commands: `install-bins.sh DIST BINDIR name:path...` writes BINDIR/name, a wrapper
# running `node [FLAGS] DIST/path "$@"`. FLAGS come from the file's own interpreter line
# (`#!/usr/bin/env -S node FLAGS`: tortie-bgpd's --max-semi-space-size=8, set once in
# bgp/bgpd/main.ts and kept by its bundle), so the image runs each command with the node flags
# its executable runs with; a plain `#!/usr/bin/env node` (or no such line) gives none.
set -eu
[ $# -ge 3 ] || { echo "usage: install-bins.sh DIST BINDIR name:path..." >&2; exit 2; }
dist=$1 bindir=$2
shift 2
for b in "$@"; do
  name=${b%%:*} path=${b#*:}
  [ -f "$dist/$path" ] || { echo "install-bins.sh: $dist/$path (for $name) does not exist" >&2; exit 1; }
  flags=$(sed -n '1s|^#!/usr/bin/env -S node\( .*\)$|\1|p' "$dist/$path")
  printf '#!/bin/sh\nexec node%s %s/%s "$@"\n' "$flags" "$dist" "$path" > "$bindir/$name"
  chmod 0755 "$bindir/$name"
done
