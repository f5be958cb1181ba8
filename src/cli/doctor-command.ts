/**
 * `iot-jobs-agent doctor [flags]`: checks the device's setup the way the agent will use it and
 * prints one line per check with the fix (what the Device Client never had). Exit 0 when nothing
 * failed, 1 otherwise. Nothing is changed on the device.
 */
import type { ParsedArgs } from "../config/cli-args.ts";
import { connectionSettings } from "../config/connection-settings.ts";
import { loadConfig } from "../config/load.ts";
import { clockCheck, credentialChecks, handlerChecks, stateDirCheck } from "../doctor/local-checks.ts";
import { networkChecks } from "../doctor/network-checks.ts";
import { type CheckLine, exitCode, fail, formatLine, ok, skip, warn } from "../doctor/report.ts";

export async function doctorCommand(args: ParsedArgs, out: (line: string) => void): Promise<number> {
  const lines: CheckLine[] = [];
  const emit = (line: CheckLine) => {
    lines.push(line);
    out(formatLine(line));
  };
  const loaded = loadConfig(args);
  if (!loaded.ok) {
    emit(fail("config", loaded.message));
    return exitCode(lines);
  }
  const config = loaded.config;
  emit(ok("config", config.source ? `${config.source}` : "no config file; flags and defaults only"));
  for (const n of loaded.notices) emit(ok("config", n));
  for (const w of loaded.warnings) emit(warn("config", w));
  const now = Date.now();
  emit(clockCheck(now));
  const euid = process.geteuid?.() ?? 0;
  const checked = connectionSettings(config, euid);
  if (!checked.ok) emit(fail("connection", checked.message));
  for (const line of credentialChecks(config, now)) emit(line);
  for (const line of handlerChecks(config, euid)) emit(line);
  emit(stateDirCheck(config));
  if (!checked.ok) {
    emit(skip("network", "needs valid connection settings"));
    return exitCode(lines);
  }
  for (const line of await networkChecks(checked.settings)) emit(line);
  return exitCode(lines);
}
