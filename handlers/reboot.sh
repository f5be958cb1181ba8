#!/bin/sh
# reboot.sh USER: reboot the device, and report success when the job runs again after the boot.
# The agent reports nothing before the reboot; the job stays IN_PROGRESS and is run again at the
# next start. A lock file holding the time of the request tells the two runs apart: if the
# system booted after that time, the reboot happened.
set -eu
. "$(dirname "$0")/_common.sh"
user=""
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then user=${1:-}; fi
lock=${IOT_JOBS_REBOOT_LOCK:-/var/tmp/iot-jobs-agent-reboot.lock}

now=$(date +%s)
uptime=$(cut -d. -f1 /proc/uptime)
boot_time=$((now - uptime))

if [ -f "$lock" ]; then
  requested=$(cat "$lock")
  rm -f "$lock"
  if [ "$requested" -lt "$boot_time" ]; then
    echo "Rebooted (requested at $requested, booted at $boot_time)"
    exit 0
  fi
  die "The device did not reboot (requested at $requested, booted at $boot_time)"
fi

echo "$now" > "$lock"
echo "Rebooting"
if ! run_as "$user" reboot; then
  rm -f "$lock"
  die "reboot failed"
fi
