#!/bin/sh
# stop-services.sh USER SERVICE...: stop services with systemctl, or the service command.
set -eu
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 1)" ] || die "usage: stop-services.sh USER SERVICE..."
user=""
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then user=${1:-}; [ $# -eq 0 ] || shift; fi
# An AWS managed template (AWS-Install-Application, …) passes the whole list as ONE argument
# ("lftp dos2unix"): split every argument on blanks, as the Device Client's handlers do, never globbing.
set -f
# shellcheck disable=SC2048,SC2086
set -- $*
[ $# -gt 0 ] || die "no service named"
for svc in "$@"; do
  service_action "$user" stop "$svc"
  echo "stop: $svc"
done
