#!/usr/bin/env bun
/**
 * iot-jobs-agent: the command line. The only module that exits the process.
 */
import { writeFileSync } from "node:fs";
import { HELP, parseArgs } from "./config/cli-args.ts";
import { defaultSettings, expandPath, loadConfig } from "./config/load.ts";
import { execCommand } from "./cli/exec-command.ts";
import { runAgent } from "./cli/run-agent.ts";
import { validateCommand } from "./cli/validate-command.ts";
import { createLogger } from "./log/logger.ts";
import { platform } from "./platform/current.ts";
import { RUN_AS_COMMAND } from "./platform/platform.ts";
import { versionLine } from "./version.ts";

async function main(argv: readonly string[]): Promise<number> {
  const out = (line: string) => void process.stdout.write(`${line}\n`);
  const err = (line: string) => void process.stderr.write(`${line}\n`);
  // The Node build on a Node it does not support: say so before anything can fail obscurely.
  if (platform.runtimeProblem) return (err(`iot-jobs-agent: FATAL: ${platform.runtimeProblem}`), 1);
  // A step as another user without sudo (the Bun build: drop-privileges.ts): replaces this process, or fails.
  if (argv[0] === RUN_AS_COMMAND) return platform.runAsMain(argv.slice(1), err);
  // Its own flags (--cert means the signer's certificate here); node:crypto is loaded only for it.
  if (argv[0] === "verify-signature") {
    return (await import("./cli/verify-signature-command.ts")).verifySignatureCommand(argv.slice(1), out, err);
  }
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    err(`iot-jobs-agent: ${parsed.message}`);
    return 2;
  }
  const args = parsed.args;
  if (args.switches.has("--help")) return (out(HELP), 0);
  if (args.switches.has("--version")) return (out(versionLine()), 0);
  const exportTo = args.values["--export-default-settings"];
  if (exportTo !== undefined) {
    const file = expandPath(exportTo);
    try {
      writeFileSync(file, `${JSON.stringify(defaultSettings(), null, 2)}\n`, { mode: 0o640 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reasons: Record<string, string> = {
        ENOENT: "its directory does not exist",
        EACCES: "permission denied",
        EISDIR: "it is a directory",
      };
      const why = (code && reasons[code]) ?? code ?? (error as Error).message;
      err(`iot-jobs-agent: cannot write default settings to ${file}: ${why}`);
      return 1;
    }
    out(`Default settings written to ${file}`);
    return 0;
  }
  if (args.command === "validate") return validateCommand(args.files, out);
  // Loaded only for `doctor`: X.509 and DNS modules would otherwise cost the agent memory at idle.
  if (args.command === "doctor") return (await import("./cli/doctor-command.ts")).doctorCommand(args, out);

  const loaded = loadConfig(args);
  if (!loaded.ok) {
    err(`iot-jobs-agent: FATAL: ${loaded.message}`);
    return 1;
  }
  const config = loaded.config;
  // exec prints its result on stdout, so its log goes to stderr.
  const log = createLogger({ ...config.logging, fd: args.command === "exec" ? 2 : 1 });
  for (const n of loaded.notices) log.info(n);
  for (const w of loaded.warnings) log.warn(w);
  if (args.command === "exec") return execCommand(args.files[0]!, config, log, out, args.params);
  return runAgent(config, log);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`iot-jobs-agent: FATAL: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
