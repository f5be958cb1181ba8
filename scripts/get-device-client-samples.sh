#!/bin/sh
# Fetches the AWS IoT Device Client's public sample job documents that test/compat runs:
#   job-docs/             sample-job-docs/*.json of its main branch (schema "1.0")
#   old-schema-job-docs/  the same folder as it was before its commit 4caced4a ("Standard Job
#                         Action Feature (#191)"), which introduced the "1.0" schema
# Usage: scripts/get-device-client-samples.sh [DEST]   (default: ../shared/compat/device-client;
# elsewhere, run the tests with IOT_JOBS_DC_SAMPLES=DEST). Needs git and network access.
set -eu
dest=${1:-"$(dirname "$0")/../../shared/compat/device-client"}
repo=${DC_REPO:-https://github.com/awslabs/aws-iot-device-client}
schema_change=4caced4af7a66865007f89e84cee0e1f8cfaea1f
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git clone --quiet --filter=blob:none "$repo" "$tmp/dc"
mkdir -p "$dest/job-docs" "$dest/old-schema-job-docs"
for f in download-file echo install-packages reboot remove-packages run-shellcommand; do
  git -C "$tmp/dc" show "HEAD:sample-job-docs/$f.json" >"$dest/job-docs/$f.json"
done
for f in download-file echo install-packages remove-packages; do
  git -C "$tmp/dc" show "$schema_change^:sample-job-docs/$f.json" >"$dest/old-schema-job-docs/$f.json"
done
echo "Device Client sample documents written to $dest"
