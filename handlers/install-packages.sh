#!/bin/sh
# install-packages.sh USER PACKAGE...: install packages with apt-get, dnf or yum.
set -eu
. "$(dirname "$0")/_common.sh"
[ $# -ge 2 ] || die "usage: install-packages.sh USER PACKAGE..."
user=$1
shift
if command -v apt-get >/dev/null 2>&1; then
  run_as "$user" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -- "$@"
elif command -v dnf >/dev/null 2>&1; then
  run_as "$user" dnf install -y -- "$@"
elif command -v yum >/dev/null 2>&1; then
  run_as "$user" yum install -y -- "$@"
else
  die "No suitable package manager found (apt-get, dnf or yum)"
fi
