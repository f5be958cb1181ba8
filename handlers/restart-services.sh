#!/bin/sh
# restart-services.sh USER SERVICE...: restart services with systemctl, or the service command.
# Restarting the agent itself (iot-jobs-agent or aws-iot-device-client) ends this job's run; the
# job stays IN_PROGRESS and runs again under the new agent. A lock file holding the old agent's
# pid tells the two runs apart.
set -eu
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 1)" ] || die "usage: restart-services.sh USER SERVICE..."
user=""
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then user=${1:-}; [ $# -eq 0 ] || shift; fi
# An AWS managed template (AWS-Install-Application, …) passes the whole list as ONE argument
# ("lftp dos2unix"): split every argument on blanks, as the Device Client's handlers do, never globbing.
set -f
# shellcheck disable=SC2048,SC2086
set -- $*
[ $# -gt 0 ] || die "no service named"
lock=${IOT_JOBS_RESTART_LOCK:-/var/tmp/iot-jobs-agent-restart.lock}

for svc in "$@"; do
  case $svc in
    iot-jobs-agent | aws-iot-device-client)
      if [ -f "$lock" ]; then
        old=$(cat "$lock")
        rm -f "$lock"
        [ "$old" != "$PPID" ] || die "$svc did not restart (still pid $old)"
        echo "restart: $svc (was pid $old, now $PPID)"
        continue
      fi
      echo "$PPID" > "$lock"
      service_action "$user" restart "$svc"
      ;;
    *)
      service_action "$user" restart "$svc"
      echo "restart: $svc"
      ;;
  esac
done
