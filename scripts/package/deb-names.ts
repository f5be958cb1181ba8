/** The .deb file name for a version and Debian architecture (the packager and the release agree on it). */
export function debFileName(version: string, arch: string): string {
  return `iot-jobs-agent_${version}_${arch}.deb`;
}
