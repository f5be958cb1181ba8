#!/bin/sh
# install-packages.sh USER PACKAGE...: install packages with apt-get, dnf or yum.
set -eu
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 1)" ] || die "usage: install-packages.sh USER PACKAGE..."
user=""
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then user=${1:-}; [ $# -eq 0 ] || shift; fi
manage_packages "$user" install "$@"
