#!/bin/sh
# install-packages.sh USER PACKAGE...: install packages with apt-get, dnf or yum.
set -eu
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 1)" ] || die "usage: install-packages.sh USER PACKAGE..."
user=""
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then user=${1:-}; [ $# -eq 0 ] || shift; fi
if command -v apt-get >/dev/null 2>&1; then
  run_as "$user" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -- "$@"
elif command -v dnf >/dev/null 2>&1; then
  run_as "$user" dnf install -y -- "$@"
elif command -v yum >/dev/null 2>&1; then
  run_as "$user" yum install -y -- "$@"
else
  die "No suitable package manager found (apt-get, dnf or yum)"
fi
