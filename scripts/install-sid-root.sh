#!/bin/sh
# Install a Debian unstable (sid) root holding the CPython builds Debian
# ships there (3.13, 3.14, the 3.14 debug build, 3.15) and their headers,
# for the tests to run as container targets: chroot ROOT python3.X ...
#
#   scripts/install-sid-root.sh        (root needed; prints the root's path)
#
# The root is kept outside the clone, in ${PYTOP_CACHE:-/var/cache/pytop}/sid,
# and marked complete only at the very end, so a second run costs a second
# and a failed run resumes where it stopped (downloaded .debs are kept).
# The Debian archive is the one this machine's apt already uses.
set -eu

CACHE=${PYTOP_CACHE:-/var/cache/pytop}
ROOT=$CACHE/sid
MARKER=$ROOT/.pytop-root-complete
# What the tests need: each interpreter and its headers (internal/ ones for
# tools/gen_layouts.py, the debug build's own for python3.14d).
PACKAGES="python3.13 libpython3.13-dev python3.14 libpython3.14-dev python3.14-dbg libpython3.14-dbg \
python3.15 libpython3.15-dev"

die() { echo "install-sid-root.sh: $*" >&2; exit 1; }

if [ -f "$MARKER" ] && [ "$(sed -n 1p "$MARKER")" = "$PACKAGES" ]; then
    echo "$ROOT"
    exit 0
fi
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot); run it with sudo"

# The archive: the first non-security "deb" source of this machine's apt.
mirror() {
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822: stanzas separated by blank lines; want Types: deb and a
        # Suites line with no "-security" suite.
        awk 'BEGIN { RS = ""; FS = "\n" }
             { types = uris = suites = ""
               for (i = 1; i <= NF; i++) {
                   if ($i ~ /^Types:/) types = $i
                   if ($i ~ /^URIs:/) uris = $i
                   if ($i ~ /^Suites:/) suites = $i }
               if (types ~ /[ \t]deb([ \t]|$)/ && suites !~ /-security/ && uris != "") {
                   sub(/^URIs:[ \t]*/, "", uris); split(uris, u, /[ \t]+/); print u[1]; exit } }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [options] URI suite components
        sed -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && $3 !~ /-security/ { print $2 }'
    done
}
MIRROR=$(mirror | grep -E '^(https?|file)://' | head -n 1 || true)
[ -n "$MIRROR" ] || die "no Debian archive found in /etc/apt/sources.list{,.d}; add one (apt must work on this machine)"

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "install-sid-root.sh: installing debootstrap" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
        die "cannot install debootstrap with apt-get; install it and run this again"
fi

mkdir -p "$CACHE/debs"
# debootstrap deletes ROOT/debootstrap when it has finished; a root that
# still has it (or has no apt) is a broken earlier run: start it again,
# reusing the downloaded packages.
if [ ! -x "$ROOT/usr/bin/apt-get" ] || [ -d "$ROOT/debootstrap" ]; then
    if [ -e "$ROOT" ]; then
        grep -q " $ROOT/" /proc/mounts && die "$ROOT has file systems mounted in it; unmount them and run this again"
        rm -rf "$ROOT"
    fi
    echo "install-sid-root.sh: debootstrap sid into $ROOT (a few minutes)" >&2
    debootstrap --variant=minbase --cache-dir="$CACHE/debs" sid "$ROOT" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
        die "debootstrap failed (last line: $(tail -n 1 "$CACHE/debootstrap.log")); see $CACHE/debootstrap.log, then run this again"
fi

cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
# Each command runs chroot'd with the root's /proc mounted in a mount
# namespace of its own: the mount goes away with it, nothing to clean up.
inroot() {
    unshare --mount --propagation private sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$ROOT" \
        env DEBIAN_FRONTEND=noninteractive LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
unshare --mount --propagation private sh -c 'mount -t proc proc "$0/proc"' "$ROOT" ||
    die "cannot mount /proc in $ROOT in a private mount namespace (unshare --mount needs CAP_SYS_ADMIN)"
# The archive may be a dated snapshot whose Release file has expired.
update() { inroot apt-get -o Acquire::Check-Valid-Until=false update -qq; }
log=$CACHE/apt.log
: >"$log"
update >>"$log" 2>&1 || die "apt-get update failed in $ROOT; see $log"
# 3.15 may only be in experimental: take from there that package alone.
if ! inroot apt-cache show python3.15 >/dev/null 2>&1; then
    echo "deb $MIRROR experimental main" >"$ROOT/etc/apt/sources.list.d/experimental.list"
    printf 'Package: *\nPin: release a=experimental\nPin-Priority: 1\n\nPackage: python3.15* libpython3.15*\nPin: release a=experimental\nPin-Priority: 500\n' \
        >"$ROOT/etc/apt/preferences.d/python3.15"
    update >>"$log" 2>&1 || die "apt-get update (with experimental) failed in $ROOT; see $log"
fi
missing=""
for p in $PACKAGES; do
    inroot apt-cache show "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] || die "not in Debian sid or experimental:$missing"
# A run stopped during dpkg left it half done: finish that first.
inroot dpkg --configure -a >>"$log" 2>&1 || true
inroot apt-get install -y -q --no-install-recommends $PACKAGES >>"$log" 2>&1 ||
    die "apt-get install failed in $ROOT (last line: $(tail -n 1 "$log")); see $log, then run this again"
inroot apt-get clean >/dev/null 2>&1 || true

versions=""
for py in python3.13 python3.14 python3.14d python3.15; do
    v=$(inroot "$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>>"$log") ||
        die "$py does not run in $ROOT; see $log"
    versions="$versions $py=$v"
done
for inc in python3.13 python3.14 python3.14d python3.15; do
    [ -d "$ROOT/usr/include/$inc/internal" ] || die "$ROOT/usr/include/$inc/internal is missing (a -dev package changed?)"
done
printf '%s\n%s\n' "$PACKAGES" "${versions# }" >"$MARKER"
echo "install-sid-root.sh: sid root ready:$versions" >&2
echo "$ROOT"
