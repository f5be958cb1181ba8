#!/bin/sh
# download-file.sh USER URL DESTINATION: fetch URL into DESTINATION (a file, or a directory).
set -eu
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 2)" ] || die "usage: download-file.sh USER URL DESTINATION"
user=""
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then user=$1; shift; fi
url=$1 dest=$2
if command -v wget >/dev/null 2>&1; then
  if [ -d "$dest" ]; then run_as "$user" wget --quiet -P "$dest" -- "$url"; else run_as "$user" wget --quiet -O "$dest" -- "$url"; fi
elif command -v curl >/dev/null 2>&1; then
  if [ -d "$dest" ]; then
    (cd "$dest" && run_as "$user" curl --fail --silent --show-error --location --remote-name -- "$url")
  else
    run_as "$user" curl --fail --silent --show-error --location --output "$dest" -- "$url"
  fi
else
  die "Neither wget nor curl is installed; install one of them to download files"
fi
echo "Downloaded to $dest"
