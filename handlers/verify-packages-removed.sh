#!/bin/sh
# verify-packages-removed.sh USER PACKAGE...: succeed only if no package is installed.
set -u
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 1)" ] || die "usage: verify-packages-removed.sh USER PACKAGE..."
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then shift; fi
present=0
for pkg in "$@"; do
  if command -v dpkg-query >/dev/null 2>&1; then
    status=$(dpkg-query -W -f='${Status}' -- "$pkg" 2>/dev/null || true)
    case $status in *" installed") echo "$pkg is still installed" >&2; present=1 ;; *) echo "$pkg is not installed" ;; esac
  elif command -v rpm >/dev/null 2>&1; then
    if rpm -q -- "$pkg" >/dev/null 2>&1; then echo "$pkg is still installed" >&2; present=1; else echo "$pkg is not installed"; fi
  else
    die "Neither dpkg nor rpm is available to check packages"
  fi
done
exit $present
