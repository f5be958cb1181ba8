#!/bin/sh
# verify-packages-installed.sh USER PACKAGE...: succeed only if every package is installed.
set -u
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 1)" ] || die "usage: verify-packages-installed.sh USER PACKAGE..."
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then shift; fi
missing=0
for pkg in "$@"; do
  if package_installed "$pkg"; then echo "$pkg is installed"; else echo "$pkg is not installed" >&2; missing=1; fi
done
exit $missing
