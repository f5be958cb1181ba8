#!/bin/sh
# verify-packages-removed.sh USER PACKAGE...: succeed only if no package is installed.
set -u
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 1)" ] || die "usage: verify-packages-removed.sh USER PACKAGE..."
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then shift; fi
present=0
for pkg in "$@"; do
  if package_installed "$pkg"; then echo "$pkg is still installed" >&2; present=1; else echo "$pkg is not installed"; fi
done
exit $present
