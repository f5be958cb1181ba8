#!/bin/sh
# stop-services.sh USER SERVICE...: stop services with systemctl, or the service command.
set -eu
. "$(dirname "$0")/_common.sh"
[ $# -ge 2 ] || die "usage: stop-services.sh USER SERVICE..."
user=$1
shift
for svc in "$@"; do
  if command -v systemctl >/dev/null 2>&1; then
    run_as "$user" systemctl stop -- "$svc"
  elif command -v service >/dev/null 2>&1; then
    run_as "$user" service "$svc" stop
  else
    die "Neither systemctl nor service is available to stop $svc"
  fi
  echo "stop: $svc"
done
