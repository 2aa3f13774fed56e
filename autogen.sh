#!/bin/sh
# autogen.sh — regenerate the build system from a git checkout
# (release tarballs already contain configure).
set -e
cd "$(dirname "$0")"
autoreconf --install --force --warnings=all
echo "Now run ./configure && make"
