import { describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "../../src/config/cli-args.ts";
import { connectionSettings, parseEndpoint } from "../../src/config/connection-settings.ts";
import { expandPath, loadConfig } from "../../src/config/load.ts";
import type { AgentConfig } from "../../src/config/schema.ts";
import { tempDir } from "../helpers/temp.ts";

function args(argv: string[]) {
  const r = parseArgs(argv);
  if (!r.ok) throw new Error(r.message);
  return r.args;
}

function configFile(content: unknown, mode = 0o640): string {
  const file = join(tempDir(), "aws-iot-device-client.conf");
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  chmodSync(file, mode);
  return file;
}

const env = { HOME: "/home/pi" };

describe("command line [DC-CONFIG-flags]", () => {
  test("the Device Client's flags, plus --state-dir", () => {
    const a = args([
      "--endpoint",
      "x.iot.eu-west-1.amazonaws.com",
      "--thing-name",
      "pi",
      "--enable-jobs",
      "true",
      "--jobs-handler-dir",
      "/h",
      "--state-dir",
      "/s",
      "--enable-sdk-logging",
    ]);
    expect(a.command).toBe("run");
    expect(a.values["--endpoint"]).toBe("x.iot.eu-west-1.amazonaws.com");
    expect(a.switches.has("--enable-sdk-logging")).toBe(true);
  });
  test("an unknown flag, a repeated flag, a missing value are errors", () => {
    expect(parseArgs(["--bogus"])).toEqual({ ok: false, message: "unknown flag --bogus; see --help" });
    expect(parseArgs(["--cert", "a", "--cert", "b"])).toEqual({
      ok: false,
      message: "--cert was given more than once",
    });
    expect(parseArgs(["--cert"])).toEqual({ ok: false, message: "--cert needs a value" });
    expect(parseArgs(["--cert", "--key", "k"])).toEqual({ ok: false, message: "--cert needs a value" });
    expect(parseArgs(["stray"])).toEqual({ ok: false, message: 'unexpected argument "stray"; see --help' });
  });
  test("validate and exec take files", () => {
    expect(args(["validate", "a.json", "b.json"]).files).toEqual(["a.json", "b.json"]);
    expect(args(["exec", "a.json", "--jobs-handler-dir", "/h"]).values["--jobs-handler-dir"]).toBe("/h");
    expect(parseArgs(["exec"])).toEqual({ ok: false, message: "exec needs a job document file" });
    expect(parseArgs(["exec", "a", "b"])).toEqual({ ok: false, message: "exec takes one job document file" });
  });
});

describe("config file and precedence [DC-CONFIG-precedence]", () => {
  test("defaults when there is no file", () => {
    const r = loadConfig(args([]), { HOME: tempDir() });
    if (!r.ok) throw new Error(r.message);
    expect(r.config.jobs).toEqual({
      enabled: true,
      handlerDirectory: expect.stringMatching(/\.aws-iot-device-client\/jobs\/$/),
      stepTimeoutSeconds: 3600,
      maxReruns: 3,
      updateRetrySeconds: 10,
      progressIntervalSeconds: 30,
      packageInventoryFile: undefined,
      signing: { trustedCertificates: undefined, required: false },
    });
    expect(r.config.logging.level).toBe("INFO");
  });

  test("the package inventory file: off by default, from the file or the flag (the flag wins), ~ expanded", () => {
    const home = tempDir();
    const file = configFile({ jobs: { "package-inventory-file": "~/inventory.json" } });
    const fromFile = loadConfig(args(["--config-file", file]), { HOME: home });
    if (!fromFile.ok) throw new Error(fromFile.message);
    expect(fromFile.config.jobs.packageInventoryFile).toBe(`${home}/inventory.json`);
    const fromFlag = loadConfig(args(["--config-file", file, "--package-inventory-file", "/etc/pkgs.json"]), {
      HOME: home,
    });
    if (!fromFlag.ok) throw new Error(fromFlag.message);
    expect(fromFlag.config.jobs.packageInventoryFile).toBe("/etc/pkgs.json");
  });

  test("a Device Client config file works unchanged, unknown features' keys included", () => {
    const file = configFile({
      endpoint: "abc-ats.iot.us-west-2.amazonaws.com",
      cert: "~/certs/cert.pem",
      key: "~/certs/key.pem",
      "root-ca": "$HOME/certs/AmazonRootCA1.pem",
      "thing-name": "pi-7",
      logging: { level: "debug", type: "FILE", file: "/var/log/x.log", "enable-sdk-logging": false },
      jobs: { enabled: true, "handler-directory": "~/.aws-iot-device-client/jobs" },
      tunneling: { enabled: false },
      "device-defender": { enabled: false, interval: 300 },
      samples: { "pub-sub": { enabled: false } },
    });
    const r = loadConfig(args(["--config-file", file]), env);
    if (!r.ok) throw new Error(r.message);
    expect(r.config).toMatchObject({
      endpoint: "abc-ats.iot.us-west-2.amazonaws.com",
      cert: "/home/pi/certs/cert.pem",
      rootCa: "/home/pi/certs/AmazonRootCA1.pem",
      thingName: "pi-7",
      logging: { level: "DEBUG", type: "file", file: "/var/log/x.log" },
      jobs: { enabled: true, handlerDirectory: "/home/pi/.aws-iot-device-client/jobs" },
      source: file,
    });
  });

  test("the command line wins over the file", () => {
    const file = configFile({
      "thing-name": "from-file",
      jobs: { enabled: true, "handler-directory": "/from/file" },
      logging: { level: "ERROR" },
    });
    const r = loadConfig(
      args([
        "--config-file",
        file,
        "--thing-name",
        "from-cli",
        "--jobs-handler-dir",
        "/from/cli",
        "--enable-jobs",
        "false",
        "--log-level",
        "WARN",
      ]),
      env,
    );
    if (!r.ok) throw new Error(r.message);
    expect(r.config.thingName).toBe("from-cli");
    expect(r.config.jobs.handlerDirectory).toBe("/from/cli");
    expect(r.config.jobs.enabled).toBe(false);
    expect(r.config.logging.level).toBe("WARN");
  });

  test("--enable-jobs anything but true disables", () => {
    const r = loadConfig(args(["--enable-jobs", "yes"]), { HOME: tempDir() });
    expect(r.ok && r.config.jobs.enabled).toBe(false);
  });

  test("fatal problems name the file and the fix", () => {
    expect(loadConfig(args(["--config-file", "/nonexistent/x.conf"]), env)).toEqual({
      ok: false,
      message: "Config file /nonexistent/x.conf given with --config-file does not exist",
    });
    const big = configFile({ pad: "x".repeat(5001) });
    expect(loadConfig(args(["--config-file", big]), env)).toMatchObject({
      ok: false,
      message: expect.stringMatching(/is 50\d\d bytes; the limit is 5000 bytes$/),
    });
    const bad = configFile("{ not json");
    expect(loadConfig(args(["--config-file", bad]), env)).toMatchObject({
      ok: false,
      message: expect.stringContaining(`Config file ${bad} is not valid JSON`),
    });
    const wrong = configFile({ jobs: { enabled: "yes" }, logging: { level: "LOUD" } });
    expect(loadConfig(args(["--config-file", wrong]), env)).toEqual({
      ok: false,
      message: `Config file ${wrong}: logging.level: expected "DEBUG", "INFO", "WARN" or "ERROR"; jobs.enabled: expected true or false`,
    });
  });

  test("a config file writable by others is a warning, not fatal", () => {
    const file = configFile({ "thing-name": "t" }, 0o666);
    const r = loadConfig(args(["--config-file", file]), env);
    expect(r.ok && r.warnings).toEqual([
      `Config file ${file} is writable by group or others (666); run: chmod 640 ${file}`,
    ]);
  });

  test("paths expand ~ and $VARS", () => {
    expect(expandPath("~/a/$USER/${X}b", { HOME: "/h", USER: "u", X: "x" })).toBe("/h/a/u/xb");
  });
});

describe("connection settings [DC-CONFIG-required]", () => {
  const base = (over: Partial<AgentConfig>): AgentConfig => ({
    endpoint: "mqtt://127.0.0.1:1883",
    cert: undefined,
    key: undefined,
    rootCa: undefined,
    thingName: "pi-1",
    stateDir: "/tmp/s",
    logging: { level: "INFO", type: "stdout", file: "/tmp/l" },
    jobs: {
      enabled: true,
      handlerDirectory: "/h",
      stepTimeoutSeconds: 3600,
      maxReruns: 3,
      updateRetrySeconds: 10,
      progressIntervalSeconds: 30,
      packageInventoryFile: undefined,
      signing: { trustedCertificates: undefined, required: false },
    },
    source: undefined,
    ...over,
  });
  const euid = process.geteuid!();

  test("endpoints: URL forms and a bare AWS host", () => {
    expect(parseEndpoint("mqtt://localhost:1884")).toEqual({
      protocol: "mqtt",
      host: "localhost",
      port: 1884,
      alpn: undefined,
      mutualTlsRequired: false,
    });
    expect(parseEndpoint("mqtts://broker.local")).toEqual({
      protocol: "mqtts",
      host: "broker.local",
      port: 8883,
      alpn: undefined,
      mutualTlsRequired: false,
    });
    expect(parseEndpoint("abc-ats.iot.us-east-1.amazonaws.com")).toEqual({
      protocol: "mqtts",
      host: "abc-ats.iot.us-east-1.amazonaws.com",
      port: 8883,
      alpn: undefined,
      mutualTlsRequired: true,
    });
    expect(parseEndpoint("abc-ats.iot.us-east-1.amazonaws.com:443")).toMatchObject({
      port: 443,
      alpn: "x-amzn-mqtt-ca",
    });
    expect(parseEndpoint("http://x")).toBeUndefined();
    expect(parseEndpoint("mqtt://x:99999")).toBeUndefined();
  });

  test("plain mqtt:// needs no certificate", () => {
    expect(connectionSettings(base({}), euid)).toMatchObject({ ok: true });
  });

  test("required fields, in the Device Client's words", () => {
    expect(connectionSettings(base({ endpoint: undefined }), euid)).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^Endpoint is missing/),
    });
    expect(connectionSettings(base({ thingName: undefined }), euid)).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^Thing name is missing/),
    });
    expect(connectionSettings(base({ endpoint: "x.amazonaws.com" }), euid)).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^Certificate is missing/),
    });
    expect(connectionSettings(base({ thingName: "bad name" }), euid)).toMatchObject({
      ok: false,
      message: expect.stringContaining("is not valid"),
    });
  });

  test("credential files must be no more open than the Device Client's modes (a 400 key is fine)", () => {
    const dir = tempDir();
    const key = join(dir, "key.pem");
    const cert = join(dir, "cert.pem");
    writeFileSync(key, "k");
    writeFileSync(cert, "c");
    chmodSync(cert, 0o644);
    const tls = (k: number, c: number) => {
      chmodSync(key, k);
      chmodSync(cert, c);
      return connectionSettings(base({ endpoint: "x.amazonaws.com", key, cert }), euid);
    };
    expect(tls(0o400, 0o644)).toMatchObject({ ok: true });
    expect(tls(0o600, 0o444)).toMatchObject({ ok: true });
    expect(tls(0o640, 0o644)).toEqual({
      ok: false,
      message: `Private key ${key} has permissions 640, which are too open; run: chmod 600 ${key}`,
    });
    expect(tls(0o600, 0o664)).toEqual({
      ok: false,
      message: `Certificate ${cert} has permissions 664, which are too open; run: chmod 644 ${cert}`,
    });
    expect(
      connectionSettings(base({ endpoint: "x.amazonaws.com", key: join(dir, "missing"), cert }), euid),
    ).toMatchObject({ ok: false, message: expect.stringContaining("does not exist") });
  });
});
