#!/bin/sh
# Build a free-threaded CPython 3.13 (python3.13t) for pytop's tests, from
# Debian trixie's python3.13 source package (the upstream .orig tarball; no
# Debian patch is needed to build it).
#
# Installs into ${PYTOP_CACHE:-/var/cache/pytop}/python3.13t, outside the
# clone. Idempotent: a completion marker makes a second run return at once.
# Resumable: each step leaves its own marker; make resumes by itself.
# The machine's apt setup is not touched: the trixie deb-src entry lives in
# a private sources list (same mirror as this machine's apt, read from
# /etc/apt at run time) with private lists and archive directories.
set -eu

CACHE=${PYTOP_CACHE:-/var/cache/pytop}
PREFIX="$CACHE/python3.13t"
DONE="$PREFIX/.pytop-build-complete"
WORK="$CACHE/build/python3.13t"
LOG="$WORK/build.log"
JOBS=${PYTOP_BUILD_JOBS:-2}
ME="build-python-ft.sh"

[ -f "$DONE" ] && [ -x "$PREFIX/bin/python3.13t" ] && exit 0

mkdir -p "$WORK" || { echo "$ME: cannot create $WORK; set PYTOP_CACHE to a writable directory" >&2; exit 1; }

# One build at a time (interpreters.sh and a user may both call us): the
# second caller waits, then finds the marker.
if [ -z "${PYTOP_FT_LOCKED:-}" ] && command -v flock >/dev/null 2>&1; then
    PYTOP_FT_LOCKED=1 exec flock "$WORK/.lock" sh "$0" "$@"
fi
[ -f "$DONE" ] && [ -x "$PREFIX/bin/python3.13t" ] && exit 0

step="starting"
fail() {
    echo "$ME: $step failed (log: $LOG); fix the cause and run it again, it resumes" >&2
    exit 1
}
trap 'rc=$?; [ $rc -eq 0 ] || fail' EXIT

# The URI of this machine's Debian archive, from its own apt sources
# (deb822 .sources files or one-line .list entries); security and
# third-party archives are skipped.
mirror_uri() {
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" || $1 == "deb-src" {
                 for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break } }' "$f"
    done
}

APT="$WORK/apt"
SRC="$WORK/src"
cd "$WORK"
: >>"$LOG"

if [ ! -f "$WORK/.downloaded" ]; then
    step="finding this machine's Debian mirror in /etc/apt"
    uri=$(mirror_uri | grep -E '^(https?|file):.*/debian/?$' | head -n 1)
    [ -n "$uri" ] || { echo "no Debian archive URI in /etc/apt" >>"$LOG"; fail; }
    step="apt-get update of the private trixie deb-src list"
    mkdir -p "$APT/lists/partial" "$APT/archives/partial" "$APT/dl"
    echo "deb-src $uri trixie main" >"$APT/sources.list"
    set -- -o Dir::Etc::SourceList="$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::State::Lists="$APT/lists" -o Dir::Cache="$APT" -o Dir::Cache::archives="$APT/archives" \
        -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root
    apt-get -q "$@" update >>"$LOG" 2>&1
    step="apt-get source python3.13 (trixie)"
    (cd "$APT/dl" && apt-get -q "$@" source --download-only python3.13) >>"$LOG" 2>&1
    ls "$APT"/dl/python3.13_*.orig.tar.* >/dev/null 2>&1 || fail
    touch "$WORK/.downloaded"
fi

if [ ! -f "$WORK/.extracted" ]; then
    step="unpacking the upstream tarball"
    rm -rf "$SRC"
    mkdir -p "$SRC"
    tarball=$(ls "$APT"/dl/python3.13_*.orig.tar.* | grep -v '\.asc$' | head -n 1)
    tar -xf "$tarball" -C "$SRC" --strip-components=1 >>"$LOG" 2>&1
    touch "$WORK/.extracted"
fi

if [ ! -f "$WORK/.configured" ]; then
    step="configure --disable-gil --enable-shared"
    (cd "$SRC" && ./configure --prefix="$PREFIX" --disable-gil --enable-shared --without-ensurepip \
        LDFLAGS="-Wl,-rpath,$PREFIX/lib") >>"$LOG" 2>&1
    touch "$WORK/.configured"
fi

step="make -j$JOBS"
(cd "$SRC" && make -j"$JOBS") >>"$LOG" 2>&1
step="make install"
(cd "$SRC" && make install) >>"$LOG" 2>&1
step="checking the installed interpreter"
"$PREFIX/bin/python3.13t" -c 'import sys, sysconfig; assert sys.version_info[:2] == (3, 13); assert sysconfig.get_config_var("Py_GIL_DISABLED") == 1' >>"$LOG" 2>&1
touch "$DONE"
echo "$ME: $PREFIX/bin/python3.13t ready" >&2
