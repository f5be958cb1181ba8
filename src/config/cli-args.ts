/**
 * Command-line flags of the AWS IoT Device Client that this agent honours [DC-CONFIG-flags], plus
 * `--state-dir` and `--package-inventory-file`. The flags of the Device Client's other features are
 * accepted too (device-client-features.ts warns about them at start). An unknown flag, a repeated
 * flag or a flag without its value is an error.
 */
import { FOREIGN_FLAGS } from "./device-client-features.ts";

/** Flags that take a value, and the config key each one sets. */
export const VALUE_FLAGS = {
  "--config-file": undefined,
  "--export-default-settings": undefined,
  "--endpoint": "endpoint",
  "--cert": "cert",
  "--key": "key",
  "--root-ca": "root-ca",
  "--thing-name": "thing-name",
  "--log-level": "logging.level",
  "--log-type": "logging.type",
  "--log-file": "logging.file",
  "--enable-jobs": "jobs.enabled",
  "--jobs-handler-dir": "jobs.handler-directory",
  "--state-dir": "state-dir",
  "--package-inventory-file": "jobs.package-inventory-file",
  "--http-proxy-config": undefined,
  // Accepted for drop-in compatibility; the agent has no SDK log of its own.
  "--sdk-log-level": undefined,
  "--sdk-log-file": undefined,
} as const;

/** Flags without a value. */
export const SWITCH_FLAGS = ["--help", "--version", "--enable-sdk-logging"] as const;

export type ValueFlag = keyof typeof VALUE_FLAGS;
export type SwitchFlag = (typeof SWITCH_FLAGS)[number];

export interface ParsedArgs {
  readonly command: "run" | "validate" | "exec" | "doctor";
  readonly values: Partial<Record<ValueFlag, string>>;
  readonly switches: ReadonlySet<SwitchFlag>;
  /** `exec --param KEY=VALUE` (repeatable): values for the document's service placeholders. */
  readonly params: readonly (readonly [string, string])[];
  /** Flags of Device Client features this agent does not provide: value, or true for a switch. */
  readonly foreign: Readonly<Record<string, string | true>>;
  readonly files: readonly string[];
}

export type ParseArgsResult = { ok: true; args: ParsedArgs } | { ok: false; message: string };

export function parseArgs(argv: readonly string[]): ParseArgsResult {
  let command: ParsedArgs["command"] = "run";
  let rest = argv;
  if (argv[0] === "validate" || argv[0] === "exec" || argv[0] === "doctor") {
    command = argv[0];
    rest = argv.slice(1);
  }
  const values: Partial<Record<ValueFlag, string>> = {};
  const switches = new Set<SwitchFlag>();
  const foreign: Record<string, string | true> = {};
  const params: [string, string][] = [];
  const files: string[] = [];
  const isFlag = (word: string) =>
    word in VALUE_FLAGS || (SWITCH_FLAGS as readonly string[]).includes(word) || FOREIGN_FLAGS.has(word);
  for (let i = 0; i < rest.length; i++) {
    // `-h` is the short form people type; the Device Client documents only --help.
    const arg = rest[i] === "-h" ? "--help" : rest[i]!;
    if (arg === "--param" && command === "exec") {
      const pair = rest[i + 1];
      const eq = pair?.indexOf("=") ?? -1;
      if (pair === undefined || eq < 1) return { ok: false, message: "--param needs KEY=VALUE" };
      params.push([pair.slice(0, eq), pair.slice(eq + 1)]);
      i++;
    } else if (FOREIGN_FLAGS.has(arg)) {
      if (arg in foreign) return { ok: false, message: `${arg} was given more than once` };
      if (!FOREIGN_FLAGS.get(arg)) {
        foreign[arg] = true;
        continue;
      }
      const value = rest[i + 1];
      if (value === undefined || isFlag(value)) return { ok: false, message: `${arg} needs a value` };
      foreign[arg] = value;
      i++;
    } else if (arg in VALUE_FLAGS) {
      const flag = arg as ValueFlag;
      if (flag in values) return { ok: false, message: `${flag} was given more than once` };
      const value = rest[i + 1];
      if (value === undefined || isFlag(value)) return { ok: false, message: `${flag} needs a value` };
      values[flag] = value;
      i++;
    } else if ((SWITCH_FLAGS as readonly string[]).includes(arg)) {
      const flag = arg as SwitchFlag;
      if (switches.has(flag)) return { ok: false, message: `${flag} was given more than once` };
      switches.add(flag);
    } else if (arg.startsWith("-") && arg !== "-") {
      return { ok: false, message: `unknown flag ${arg}; see --help` };
    } else if (command === "run" || command === "doctor") {
      return { ok: false, message: `unexpected argument ${JSON.stringify(arg)}; see --help` };
    } else {
      files.push(arg);
    }
  }
  if ((command === "validate" || command === "exec") && files.length === 0 && !switches.has("--help"))
    return { ok: false, message: `${command} needs a job document file` };
  if (command === "exec" && files.length > 1) return { ok: false, message: "exec takes one job document file" };
  return { ok: true, args: { command, values, switches, params, foreign, files } };
}

export const HELP = `Usage:
  iot-jobs-agent [flags]              run the agent (AWS IoT Jobs over MQTT)
  iot-jobs-agent validate FILE...     check job documents; exit 1 with the reasons
  iot-jobs-agent exec FILE [flags]    run a job document locally and print its status;
                 [--param KEY=VALUE]  values for service placeholders: KEY is a template parameter
                                      (\${aws:iot:parameter:KEY}) or a whole aws:iot:… placeholder
  iot-jobs-agent doctor [flags]       check config, credentials, handlers, clock, network, MQTT
                                      and the Jobs subscriptions; one line per check with the fix
  iot-jobs-agent verify-signature ...  check an artifact's SHA-256 ECDSA/RSA signature against the
                                      trusted certificates (verify-signature --help)

Flags (as the AWS IoT Device Client's; command line over config file):
  --config-file FILE              config file (default ~/.aws-iot-device-client/aws-iot-device-client.conf)
  --endpoint HOST|URL             AWS IoT endpoint (mutual TLS on 8883; HOST:443 uses ALPN),
                                  or mqtt://host:port (plain TCP) / mqtts://host:port
  --cert FILE                     device certificate (PEM)
  --key FILE                      private key (PEM)
  --root-ca FILE                  root CA (PEM); default: the system trust store
  --thing-name NAME               thing name, also the MQTT client id
  --log-level DEBUG|INFO|WARN|ERROR
  --log-type stdout|file
  --log-file FILE
  --enable-jobs true|false
  --jobs-handler-dir DIR          handler directory (default ~/.aws-iot-device-client/jobs/)
  --state-dir DIR                 local state: running execution, lock (default ~/.aws-iot-device-client/state/)
  --package-inventory-file FILE   installed package versions (JSON) to report in the $package shadow
  --http-proxy-config FILE        the Device Client's http-proxy.conf (default: beside the config file)
  --export-default-settings FILE  write the default configuration to FILE and exit
  --help, -h, --version

The Device Client's other features' flags (tunneling, Device Defender, fleet provisioning, samples,
config shadow, secure element) are accepted; a feature they switch on is not
provided and gets one warning at start (a secure element without --key stops the agent).
`;
