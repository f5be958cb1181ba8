#!/bin/sh
# verify-packages-installed.sh USER PACKAGE...: succeed only if every package is installed.
set -u
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 1)" ] || die "usage: verify-packages-installed.sh USER PACKAGE..."
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then shift; fi
missing=0
for pkg in "$@"; do
  if command -v dpkg-query >/dev/null 2>&1; then
    status=$(dpkg-query -W -f='${Status}' -- "$pkg" 2>/dev/null || true)
    case $status in *" installed") echo "$pkg is installed" ;; *) echo "$pkg is not installed" >&2; missing=1 ;; esac
  elif command -v rpm >/dev/null 2>&1; then
    if rpm -q -- "$pkg" >/dev/null 2>&1; then echo "$pkg is installed"; else echo "$pkg is not installed" >&2; missing=1; fi
  else
    die "Neither dpkg nor rpm is available to check packages"
  fi
done
exit $missing
