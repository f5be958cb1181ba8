#!/bin/sh
# stop-services.sh USER SERVICE...: stop services with systemctl, or the service command.
set -eu
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 1)" ] || die "usage: stop-services.sh USER SERVICE..."
user=""
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then user=${1:-}; [ $# -eq 0 ] || shift; fi
for svc in "$@"; do
  service_action "$user" stop "$svc"
  echo "stop: $svc"
done
