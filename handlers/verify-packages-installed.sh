#!/bin/sh
# verify-packages-installed.sh USER PACKAGE...: succeed only if every package is installed.
set -u
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 1)" ] || die "usage: verify-packages-installed.sh USER PACKAGE..."
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then shift; fi
# An AWS managed template (AWS-Install-Application, …) passes the whole list as ONE argument
# ("lftp dos2unix"): split every argument on blanks, as the Device Client's handlers do, never globbing.
set -f
# shellcheck disable=SC2048,SC2086
set -- $*
[ $# -gt 0 ] || die "no package named"
missing=0
for pkg in "$@"; do
  if package_installed "$pkg"; then echo "$pkg is installed"; else echo "$pkg is not installed" >&2; missing=1; fi
done
exit $missing
