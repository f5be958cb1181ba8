import { platform } from "./platform/current.ts";

/** Filled in by the build (`--define`); running from source (and the Node build) says so. */
declare const AGENT_VERSION: string | undefined;
declare const AGENT_REVISION: string | undefined;
declare const AGENT_TARGET: string | undefined;

export const version = typeof AGENT_VERSION === "string" ? AGENT_VERSION : "0.1.0";
export const revision = typeof AGENT_REVISION === "string" ? AGENT_REVISION : "source";
export const target =
  typeof AGENT_TARGET === "string" ? AGENT_TARGET : `${process.platform}-${process.arch} (${platform.runtime})`;

export function versionLine(): string {
  return `iot-jobs-agent ${version} (${revision}) ${target}`;
}
