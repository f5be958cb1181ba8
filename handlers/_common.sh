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

# package_installed PACKAGE: exit 0 when installed (dpkg or rpm), 1 when not.
package_installed() {
  if command -v dpkg-query >/dev/null 2>&1; then
    case $(dpkg-query -W -f='${Status}' -- "$1" 2>/dev/null || true) in
      *" installed") return 0 ;;
      *) return 1 ;;
    esac
  elif command -v rpm >/dev/null 2>&1; then
    rpm -q -- "$1" >/dev/null 2>&1
  else
    die "Neither dpkg nor rpm is available to check packages"
  fi
}

# manage_packages USER install|remove PACKAGE...: apt-get (remove purges), dnf or yum.
manage_packages() {
  _user=$1 _action=$2
  shift 2
  if command -v apt-get >/dev/null 2>&1; then
    _purge=""
    if [ "$_action" = remove ]; then _purge=--purge; fi
    run_as "$_user" env DEBIAN_FRONTEND=noninteractive apt-get "$_action" -y -q $_purge -- "$@"
  elif command -v dnf >/dev/null 2>&1; then
    run_as "$_user" dnf "$_action" -y -- "$@"
  elif command -v yum >/dev/null 2>&1; then
    run_as "$_user" yum "$_action" -y -- "$@"
  else
    die "No suitable package manager found (apt-get, dnf or yum)"
  fi
}

# service_action USER start|stop|restart SERVICE: systemctl, or the service command.
service_action() {
  if command -v systemctl >/dev/null 2>&1; then
    run_as "$1" systemctl "$2" -- "$3"
  elif command -v service >/dev/null 2>&1; then
    run_as "$1" service "$3" "$2"
  else
    die "Neither systemctl nor service is available to $2 $3"
  fi
}
