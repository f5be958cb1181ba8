#!/bin/sh
# remove-packages.sh USER PACKAGE...: remove (purge) packages with apt-get, dnf or yum.
set -eu
. "$(dirname "$0")/_common.sh"
[ $# -ge 2 ] || die "usage: remove-packages.sh USER PACKAGE..."
user=$1
shift
if command -v apt-get >/dev/null 2>&1; then
  run_as "$user" env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q --purge -- "$@"
elif command -v dnf >/dev/null 2>&1; then
  run_as "$user" dnf remove -y -- "$@"
elif command -v yum >/dev/null 2>&1; then
  run_as "$user" yum remove -y -- "$@"
else
  die "No suitable package manager found (apt-get, dnf or yum)"
fi
