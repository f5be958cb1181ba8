#!/bin/sh
# remove-packages.sh USER PACKAGE...: remove packages with apt-get (purge), dnf or yum.
set -eu
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 1)" ] || die "usage: remove-packages.sh USER PACKAGE..."
user=""
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then user=${1:-}; [ $# -eq 0 ] || shift; fi
manage_packages "$user" remove "$@"
