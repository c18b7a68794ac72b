#!/bin/sh
# Install the Debian packages pytop needs to build and test, if any is missing.
set -e
PACKAGES="build-essential autoconf automake pkg-config libncurses-dev libelf-dev \
libunwind-dev zlib1g-dev clang libclang-rt-dev binutils python3 tmux procps util-linux \
valgrind protobuf-compiler chromium python3-dev"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "pytop: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
