#!/bin/sh
# Install the interpreters the tests need besides pyenv's and Debian's own:
# the Debian sid root (python3.13, 3.14, 3.14d, 3.15 run as chroot'd
# container targets) and, where its script exists, a free-threaded 3.13.
# Both are cached in ${PYTOP_CACHE:-/var/cache/pytop}; a second run takes
# seconds. Called by .ci/run after scripts/deps.sh.
set -e
cd "$(dirname "$0")/.."
scripts/install-sid-root.sh >/dev/null
if [ -x scripts/build-python-ft.sh ]; then
    scripts/build-python-ft.sh
fi
