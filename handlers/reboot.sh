#!/bin/sh
# reboot.sh USER: reboot the device, and report success when the job runs again after the boot.
# The agent reports nothing before the reboot; the job stays IN_PROGRESS and is run again at the
# next start. A lock file tells the two runs apart: it holds the time of the request, the boot id
# it was made in, and the job execution it belongs to (IOT_JOBS_JOB_ID and
# IOT_JOBS_EXECUTION_NUMBER, set by the agent). Another boot id means the reboot happened; a lock
# of another execution is stale (that job was canceled while it waited) and is ignored, and so
# is a lock that names no execution (left by version 0.1.0): it cannot prove that this job's
# reboot happened, and one extra reboot at the upgrade beats a reboot job reported done without one.
#
# `reboot` may return before the system goes down (systemctl reboot queues a job and exits 0):
# the handler then waits, up to IOT_JOBS_REBOOT_WAIT seconds (300), for the shutdown to stop it.
# If it is still running after that, nothing rebooted: the lock goes and the step fails.
set -eu
. "$(dirname "$0")/_common.sh"
user=""
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then user=${1:-}; fi
lock=${IOT_JOBS_REBOOT_LOCK:-/var/tmp/iot-jobs-agent-reboot.lock}
wait_seconds=${IOT_JOBS_REBOOT_WAIT:-300}
execution="${IOT_JOBS_JOB_ID:-}#${IOT_JOBS_EXECUTION_NUMBER:-}"

now=$(date +%s)
uptime=$(cut -d. -f1 /proc/uptime)
boot_time=$((now - uptime))
boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)

if [ -f "$lock" ]; then
  requested="" requested_boot="" requested_by=""
  read -r requested requested_boot requested_by < "$lock" || true
  rm -f "$lock"
  if [ -n "$requested_by" ] && [ "$requested_by" != "#" ] && [ "$execution" != "#" ] &&
    [ "$requested_by" != "$execution" ]; then
    echo "Ignoring the reboot lock of another job execution ($requested_by)" >&2
  elif [ -z "$requested_by" ] && [ "$execution" != "#" ]; then
    echo "Ignoring a reboot lock that names no job execution (left by an older version)" >&2
  elif [ -n "$requested_boot" ] && [ "$requested_boot" != unknown ] && [ "$boot_id" != unknown ]; then
    if [ "$requested_boot" != "$boot_id" ]; then
      echo "Rebooted (requested at $requested, booted at $boot_time)"
      exit 0
    fi
    die "The device did not reboot (requested at $requested in this boot)"
  elif [ "${requested:-0}" -lt "$boot_time" ] 2>/dev/null; then
    echo "Rebooted (requested at $requested, booted at $boot_time)"
    exit 0
  else
    die "The device did not reboot (requested at $requested, booted at $boot_time)"
  fi
fi

echo "$now $boot_id $execution" > "$lock"
echo "Rebooting"
if ! run_as "$user" reboot; then
  rm -f "$lock"
  die "reboot failed"
fi
# Stopped here by the shutdown (SIGTERM to the step's group), or not rebooting at all.
sleep "$wait_seconds"
rm -f "$lock"
die "reboot returned but the device did not go down within $wait_seconds s"
