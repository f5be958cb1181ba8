#!/bin/sh
# shutdown.sh USER: power the device off in one minute.
set -eu
. "$(dirname "$0")/_common.sh"
user=""
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then user=${1:-}; fi
run_as "$user" shutdown -h +1
echo "System scheduled for shut down in one minute..."
