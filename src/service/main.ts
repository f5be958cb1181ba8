/**
 * iot-jobs-local: the cloud half on one machine (docs/LOCAL-SERVICE.md).
 *   iot-jobs-local serve [--data-dir DIR] [--mqtt-port N] [--http-port N] [--host H]
 *                        [--broker mqtt://host:port] [--minute-ms N] [--time-scale F]
 *                        [--start-time ISO-DATE] [--log-level LEVEL]
 *                        [--http-host-name NAME]... [--mqtts-port N] [--listeners mqtt,mqtts]
 *                        [--plain-policy open|enforce]
 * Once ready it prints one JSON line on stdout:
 *   {"mqtt":"mqtt://127.0.0.1:N","http":"http://127.0.0.1:M","mqtts":"mqtts://127.0.0.1:T","rootCa":"PATH"}
 * Logs go to stderr.
 */
import { parseArgs } from "node:util";
import { createLogger } from "../log/logger.ts";
import { revision, target, version } from "../version.ts";
import { scaledClock } from "./scaled-clock.ts";
import { startService } from "./service.ts";

const USAGE = `Usage: iot-jobs-local serve [options]

  --data-dir DIR       where the SQLite store lives (default: in memory, lost on exit)
  --mqtt-port N        embedded broker's plain MQTT port (default 1883; 0 picks a free port)
  --mqtts-port N       embedded broker's MQTT-over-TLS port: client certificates and IoT policies,
                       as AWS IoT (default 8883, or a free port when --mqtt-port is 0)
  --listeners LIST     which embedded listeners run: mqtt, mqtts or mqtt,mqtts (default both)
  --plain-policy MODE  open: the plain listener trusts the client id (development mode, default);
                       enforce: the policies of the thing's ACTIVE certificates apply there too
  --http-port N        control-plane HTTP port, plain HTTP (default 8080; 0 picks a free port);
                       it also serves the web console at /console
  --host H             address to bind (default 127.0.0.1)
  --broker URL         attach to an existing broker (mqtt://host:port) instead of embedding one
  --http-host-name NAME
                       a host name the HTTP API answers to besides IP addresses and localhost
                       (repeatable; other Host headers are refused against DNS rebinding)
  --minute-ms N        length of a timeout and roll-out minute in ms (default 60000; shorten it for tests)
  --time-scale F       run the service's clock F times faster than real time: timeouts, roll-out
                       minutes, schedules and maintenance windows (e.g. 600: a minute lasts 100 ms)
  --start-time DATE    the service's clock starts at DATE (ISO 8601, e.g. 2030-01-01T00:00Z)
                       instead of now; for rehearsing schedules with throw-away data
  --log-level LEVEL    DEBUG, INFO, WARN or ERROR (default INFO)
`;

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        "data-dir": { type: "string" },
        "mqtt-port": { type: "string" },
        "mqtts-port": { type: "string" },
        listeners: { type: "string" },
        "plain-policy": { type: "string" },
        "http-port": { type: "string" },
        host: { type: "string" },
        broker: { type: "string" },
        "minute-ms": { type: "string" },
        "time-scale": { type: "string" },
        "start-time": { type: "string" },
        "http-host-name": { type: "string", multiple: true },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
      },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`iot-jobs-local ${version} (${revision}) ${target}\n`);
    return 0;
  }
  if (positionals[0] !== "serve" || positionals.length > 1) {
    process.stderr.write(USAGE);
    return 2;
  }
  const port = (name: string, fallback: number): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new Error(`--${name} must be a port number (0 picks a free one), not ${JSON.stringify(raw)}`);
    return n;
  };
  const level = String(values["log-level"] ?? "INFO").toUpperCase();
  if (!["DEBUG", "INFO", "WARN", "ERROR"].includes(level)) {
    process.stderr.write(`--log-level must be DEBUG, INFO, WARN or ERROR\n`);
    return 2;
  }
  const listeners = new Set(String(values.listeners ?? "mqtt,mqtts").split(","));
  if (listeners.size === 0 || [...listeners].some((l) => l !== "mqtt" && l !== "mqtts")) {
    process.stderr.write(`--listeners must be mqtt, mqtts or mqtt,mqtts\n`);
    return 2;
  }
  const plainPolicy = String(values["plain-policy"] ?? "open");
  if (plainPolicy !== "open" && plainPolicy !== "enforce") {
    process.stderr.write(`--plain-policy must be open or enforce\n`);
    return 2;
  }
  const log = createLogger({ level: level as "INFO", type: "stdout", fd: 2 });
  process.on("uncaughtException", (error) => log.error({ err: error }, "Unexpected error; the service keeps running"));
  process.on("unhandledRejection", (error) =>
    log.error({ err: error }, "Unexpected rejection; the service keeps running"),
  );

  let service: Awaited<ReturnType<typeof startService>>;
  try {
    const minuteMs = values["minute-ms"] === undefined ? undefined : Number(values["minute-ms"]);
    if (minuteMs !== undefined && !(Number.isFinite(minuteMs) && minuteMs > 0))
      throw new Error("--minute-ms must be a positive number");
    const scale = values["time-scale"] === undefined ? 1 : Number(values["time-scale"]);
    if (!(Number.isFinite(scale) && scale > 0)) throw new Error("--time-scale must be a positive number");
    const startText = values["start-time"] as string | undefined;
    const startMs = startText === undefined ? undefined : Date.parse(startText);
    if (startMs !== undefined && Number.isNaN(startMs))
      throw new Error(`--start-time must be an ISO 8601 date, not ${JSON.stringify(startText)}`);
    const clock = scale === 1 && startMs === undefined ? undefined : scaledClock({ scale, startMs });
    service = await startService({
      dataDir: values["data-dir"] as string | undefined,
      host: (values.host as string | undefined) ?? "127.0.0.1",
      mqttPort: port("mqtt-port", 1883),
      plainMqtt: listeners.has("mqtt"),
      // A caller that asks for a free MQTT port (tests, scripts) gets a free TLS port too.
      mqttsPort:
        listeners.has("mqtts") && values.broker === undefined
          ? port("mqtts-port", values["mqtt-port"] === "0" ? 0 : 8883)
          : undefined,
      policyOnPlain: plainPolicy === "enforce",
      httpPort: port("http-port", 8080),
      broker: values.broker as string | undefined,
      minuteMs,
      clock,
      httpHostNames: values["http-host-name"] as string[] | undefined,
      log,
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    // A port in use is the common case: say which, and how to choose another (no stack trace).
    if (e.code === "EADDRINUSE")
      log.fatal(
        `Cannot start: a port is already in use (${e.message}); choose others with --mqtt-port, --mqtts-port and --http-port (0 picks a free one)`,
      );
    else log.fatal(`Cannot start: ${e.message}`);
    return 1;
  }
  const ready = {
    ...(service.mqttUrl ? { mqtt: service.mqttUrl } : {}),
    http: service.httpUrl,
    ...(service.mqttsUrl ? { mqtts: service.mqttsUrl, rootCa: service.rootCaPath } : {}),
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  log.info({ ...ready, console: `${service.httpUrl}/console`, dataDir: values["data-dir"] ?? "(memory)" }, "Ready");
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  log.info("Stopping");
  await service.stop();
  return 0;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
