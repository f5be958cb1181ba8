#!/bin/sh
# install-packages.sh USER PACKAGE...: install packages with apt-get, dnf or yum.
set -eu
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 1)" ] || die "usage: install-packages.sh USER PACKAGE..."
user=""
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then user=${1:-}; [ $# -eq 0 ] || shift; fi
# An AWS managed template (AWS-Install-Application, …) passes the whole list as ONE argument
# ("lftp dos2unix"): split every argument on blanks, as the Device Client's handlers do, never globbing.
set -f
# shellcheck disable=SC2048,SC2086
set -- $*
[ $# -gt 0 ] || die "no package named"
manage_packages "$user" install "$@"
