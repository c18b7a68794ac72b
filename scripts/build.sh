#!/bin/sh
# Configure and build pytop in a build directory (default build/).
#   scripts/build.sh [BUILDDIR] [configure options...]
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build}
[ $# -gt 0 ] && shift
"$top/scripts/deps.sh"
[ -x "$top/configure" ] || "$top/autogen.sh" >/dev/null
mkdir -p "$dir"
cd "$dir"
if [ ! -f Makefile ] || [ "$top/configure" -nt Makefile ]; then
    "$top/configure" -q "$@"
fi
make -j"$(nproc)" >/dev/null
