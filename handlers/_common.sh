# Shared by the handlers of iot-jobs-agent; sourced, never run as a job.
# shellcheck shell=sh
# Handlers receive the job's runAsUser as $1 (empty when none was given), as the
# AWS IoT Device Client passes it.

# run_as USER CMD [ARGS...]: run CMD as USER, through sudo when that is another user.
# Refuses (exit 1) rather than run as someone else than the job asked for.
run_as() {
  _user=$1
  shift
  if [ -z "$_user" ] || [ "$_user" = "$(id -un)" ]; then
    "$@"
    return
  fi
  if ! id "$_user" >/dev/null 2>&1; then
    echo "user $_user does not exist" >&2
    return 1
  fi
  if ! command -v sudo >/dev/null 2>&1; then
    echo "sudo is not installed: cannot run as $_user" >&2
    return 1
  fi
  sudo -u "$_user" -n -- "$@"
}

# die MESSAGE: print to stderr and exit 1.
die() {
  echo "$*" >&2
  exit 1
}

# min_args N: how many arguments a handler needs for N job args: one more when the
# agent passes the user as $1 (IOT_JOBS_USER_ARG=1, the default and the new schema's way;
# old-schema documents set 0: their args start at $1).
min_args() {
  if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then echo $(($1 + 1)); else echo "$1"; fi
}
