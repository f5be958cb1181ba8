#!/bin/sh
# download-file.sh USER URL DESTINATION [SIGNATURE]: fetch URL into DESTINATION (a file, or a directory).
# With SIGNATURE (base64; a package version's `signature` attribute), the download is kept only when
# `iot-jobs-agent verify-signature` verifies it with the device's trusted certificates
# (IOT_JOBS_TRUSTED_CERTIFICATES, set by the agent from jobs.signing.trusted-certificates).
set -eu
. "$(dirname "$0")/_common.sh"
[ $# -ge "$(min_args 2)" ] || die "usage: download-file.sh USER URL DESTINATION [SIGNATURE]"
user=""
if [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then user=$1; shift; fi
url=$1 dest=$2 signature=${3:-}

# fetch URL FILE: download URL into the file FILE as the job's user.
fetch() {
  if command -v wget >/dev/null 2>&1; then
    run_as "$user" wget --quiet -O "$2" -- "$1"
  elif command -v curl >/dev/null 2>&1; then
    run_as "$user" curl --fail --silent --show-error --location --output "$2" -- "$1"
  else
    die "Neither wget nor curl is installed; install one of them to download files"
  fi
}

if [ -z "$signature" ]; then
  if [ -d "$dest" ]; then
    if command -v wget >/dev/null 2>&1; then run_as "$user" wget --quiet -P "$dest" -- "$url"
    elif command -v curl >/dev/null 2>&1; then
      (cd "$dest" && run_as "$user" curl --fail --silent --show-error --location --remote-name -- "$url")
    else die "Neither wget nor curl is installed; install one of them to download files"
    fi
  else
    fetch "$url" "$dest"
  fi
  echo "Downloaded to $dest"
  exit 0
fi

[ -n "${IOT_JOBS_TRUSTED_CERTIFICATES:-}" ] ||
  die "A signature was given but this device trusts no signing certificate (set jobs.signing.trusted-certificates)"
target=$dest
if [ -d "$dest" ]; then
  name=${url%%[?#]*}
  name=${name##*/}
  [ -n "$name" ] || die "The URL names no file; give DESTINATION as a file"
  target=${dest%/}/$name
fi
part="$target.part.$$"
trap 'rm -f "$part"' EXIT
fetch "$url" "$part"
# The reason (never the signature) goes to stderr and so to the job's statusDetails.
"${IOT_JOBS_AGENT:-iot-jobs-agent}" verify-signature --signature "$signature" "$part" >/dev/null ||
  die "Not kept: the download does not verify with this device's trusted certificates"
mv -f "$part" "$target"
trap - EXIT
echo "Downloaded to $target (signature verified)"
