#!/bin/sh
# download-file.sh USER URL DESTINATION [SIGNATURE]: fetch URL into DESTINATION (a file, or a directory:
# then the file is named after the URL's last path segment, replacing one of that name).
# The download goes to DEST.part.PID in the same directory and is moved into place only when complete,
# so a failure never leaves an empty or half-written file; the reason goes to stderr (the log and the
# job's statusDetails).
# With SIGNATURE (base64; a package version's `signature` attribute), the download is kept only when
# `iot-jobs-agent verify-signature` verifies it with the device's trusted certificates
# (IOT_JOBS_TRUSTED_CERTIFICATES, set by the agent from jobs.signing.trusted-certificates).
set -eu
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 2)" ] || die "usage: download-file.sh USER URL DESTINATION [SIGNATURE]"
user=""
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then user=$1; shift; fi
url=$1 dest=$2 signature=${3:-}

# fetch URL FILE: download URL into the file FILE as the job's user. The tool's messages are kept
# and printed only on failure (a successful download stays quiet).
fetch() {
  _url=$1
  if command -v wget >/dev/null 2>&1; then
    # GNU wget's --quiet hides the errors too; --no-verbose keeps them. BusyBox wget has no
    # --no-verbose, and its -q hides only the progress bar.
    _quiet=-q
    if wget --version 2>/dev/null | grep -q 'GNU Wget'; then _quiet=--no-verbose; fi
    set -- wget "$_quiet" -O "$2" -- "$_url"
  elif command -v curl >/dev/null 2>&1; then
    set -- curl --fail --silent --show-error --location --output "$2" -- "$_url"
  else
    die "Neither wget nor curl is installed; install one of them to download files"
  fi
  _status=0
  _messages=$(run_as "$user" "$@" 2>&1) || _status=$?
  [ "$_status" = 0 ] && return 0
  [ -z "$_messages" ] || printf '%s\n' "$_messages" >&2
  echo "Could not download $_url ($1 exited with status $_status)" >&2
  exit "$_status" # the tool's own status, as the Device Client's handler reports it
}

if [ -n "$signature" ] && [ -z "${IOT_JOBS_TRUSTED_CERTIFICATES:-}" ]; then
  die "A signature was given but this device trusts no signing certificate (set jobs.signing.trusted-certificates)"
fi
target=$dest
if [ -d "$dest" ]; then
  name=${url%%[?#]*}
  name=${name##*/}
  [ -n "$name" ] || die "The URL names no file; give DESTINATION as a file"
  target=${dest%/}/$name
fi
part="$target.part.$$"
trap 'rm -f "$part"' EXIT
trap 'exit 1' HUP INT TERM
fetch "$url" "$part"
if [ -n "$signature" ]; then
  # The reason (never the signature) goes to stderr and so to the job's statusDetails.
  "${IOT_JOBS_AGENT:-iot-jobs-agent}" verify-signature --signature "$signature" "$part" >/dev/null ||
    die "Not kept: the download does not verify with this device's trusted certificates"
fi
mv -f "$part" "$target"
trap - EXIT
if [ -n "$signature" ]; then echo "Downloaded to $target (signature verified)"; else echo "Downloaded to $target"; fi
