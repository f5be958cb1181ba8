import { describe, expect, test } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "../../src/config/cli-args.ts";
import { loadConfig } from "../../src/config/load.ts";
import { REPO_ROOT, tempDir } from "../helpers/temp.ts";

// Every flag the AWS IoT Device Client v1.x's parser defines (Config::ParseCliArgs), with whether it
// takes a value: a script that starts the Device Client must start this agent unchanged.
const DEVICE_CLIENT_FLAGS: [string, string | undefined][] = [
  ["--config-file", "/etc/aws-iot-device-client/aws-iot-device-client.conf"],
  ["--endpoint", "abc-ats.iot.eu-west-1.amazonaws.com"],
  ["--cert", "/c.pem"],
  ["--key", "/k.pem"],
  ["--root-ca", "/ca.pem"],
  ["--thing-name", "pi-1"],
  ["--log-level", "DEBUG"],
  ["--log-type", "STDOUT"],
  ["--log-file", "/var/log/x.log"],
  ["--enable-sdk-logging", undefined],
  ["--sdk-log-level", "Warn"],
  ["--sdk-log-file", "/var/log/sdk.log"],
  ["--enable-jobs", "true"],
  ["--jobs-handler-dir", "/h"],
  ["--enable-tunneling", "false"],
  ["--tunneling-region", "eu-west-1"],
  ["--tunneling-service", "SSH"],
  ["--tunneling-disable-notification", undefined],
  ["--enable-device-defender", "false"],
  ["--device-defender-interval", "300"],
  ["--enable-fleet-provisioning", "false"],
  ["--fleet-provisioning-template-name", "t"],
  ["--fleet-provisioning-template-parameters", "{}"],
  ["--csr-file", "/csr.pem"],
  ["--device-key", "/dk.pem"],
  ["--enable-pub-sub", "false"],
  ["--publish-topic", "a/b"],
  ["--publish-file", "/p"],
  ["--subscribe-topic", "a/c"],
  ["--subscribe-file", "/s"],
  ["--enable-sample-shadow", "false"],
  ["--shadow-name", "s"],
  ["--shadow-input-file", "/i"],
  ["--shadow-output-file", "/o"],
  ["--enable-config-shadow", "false"],
  ["--enable-secure-element", "false"],
  ["--pkcs11-lib", "/usr/lib/libpkcs11.so"],
  ["--secure-element-pin", "1234"],
  ["--secure-element-key-label", "k"],
  ["--secure-element-slot-id", "1"],
  ["--secure-element-token-label", "t"],
];

const argvOf = (flags: [string, string | undefined][]) => flags.flatMap(([f, v]) => (v === undefined ? [f] : [f, v]));

describe("every Device Client flag", () => {
  test("all of them together parse (a Device Client start script works unchanged)", () => {
    const r = parseArgs(argvOf(DEVICE_CLIENT_FLAGS));
    if (!r.ok) throw new Error(r.message);
    expect(r.args.values["--thing-name"]).toBe("pi-1");
    expect(r.args.foreign["--tunneling-region"]).toBe("eu-west-1");
    expect(r.args.foreign["--tunneling-disable-notification"]).toBe(true);
  });

  test("-h is --help; a foreign flag without its value, or twice, is still an error", () => {
    const h = parseArgs(["-h"]);
    expect(h.ok && h.args.switches.has("--help")).toBe(true);
    expect(parseArgs(["--tunneling-region"])).toEqual({ ok: false, message: "--tunneling-region needs a value" });
    expect(parseArgs(["--tunneling-region", "--thing-name", "x"])).toMatchObject({ ok: false });
    expect(parseArgs(["--enable-tunneling", "true", "--enable-tunneling", "true"])).toMatchObject({ ok: false });
    expect(parseArgs(["--no-such-flag"])).toMatchObject({
      ok: false,
      message: "unknown flag --no-such-flag; see --help",
    });
  });

  test("features switched off produce no warning; each one switched on produces exactly one", () => {
    const quiet = parseArgs([
      ...argvOf(DEVICE_CLIENT_FLAGS.filter(([f]) => f !== "--config-file")),
      "--state-dir",
      "/s",
    ]);
    if (!quiet.ok) throw new Error(quiet.message);
    const q = loadConfig(quiet.args, { HOME: tempDir() });
    expect(q.ok && q.warnings).toEqual([]);

    const on = parseArgs(["--enable-tunneling", "true", "--enable-device-defender", "true", "--key", "/k"]);
    if (!on.ok) throw new Error(on.message);
    const loaded = loadConfig(on.args, { HOME: tempDir() });
    if (!loaded.ok) throw new Error(loaded.message);
    expect(loaded.warnings).toHaveLength(2);
    expect(loaded.warnings[0]).toStartWith(
      "Secure tunneling is not provided by iot-jobs-agent (enabled by --enable-tunneling true)",
    );
    expect(loaded.warnings.join("\n")).toContain("Device Defender is not provided");
  });

  test("config file sections of other features: warned once each, a flag decides over the file", () => {
    const file = join(tempDir(), "aws-iot-device-client.conf");
    writeFileSync(
      file,
      JSON.stringify({
        "thing-name": "pi",
        tunneling: { enabled: true },
        "device-defender": { enabled: true, interval: 300 },
        "fleet-provisioning": { enabled: false },
        samples: { "pub-sub": { enabled: true } },
        "config-shadow": { enabled: true },
        // The Device Client's shape: a list of sensors, each enabled unless it says "enabled": false.
        "sensor-publish": {
          sensors: [
            { name: "off", enabled: false },
            { name: "my-sensor", addr: "/run/s.sock" },
          ],
        },
      }),
    );
    chmodSync(file, 0o640);
    const r = parseArgs(["--config-file", file, "--enable-device-defender", "false"]);
    if (!r.ok) throw new Error(r.message);
    const loaded = loadConfig(r.args, { HOME: tempDir() });
    if (!loaded.ok) throw new Error(loaded.message);
    const names = loaded.warnings.map((w) => w.split(" is not provided")[0]);
    expect(names).toEqual(["Secure tunneling", "The pub-sub sample", "Config shadow", "Sensor publish"]);
    expect(loaded.warnings[0]).toContain("tunneling.enabled in the config file");
    expect(loaded.warnings[3]).toContain("an enabled entry of sensor-publish.sensors in the config file");
  });

  test("sensor publish: no warning when every sensor says enabled: false, or the list is empty or absent", () => {
    for (const section of [
      {
        sensors: [
          { name: "a", enabled: false },
          { name: "b", enabled: "false" },
        ],
      },
      { sensors: [] },
      {},
      { enabled: true },
    ]) {
      const file = join(tempDir(), "aws-iot-device-client.conf");
      writeFileSync(file, JSON.stringify({ "thing-name": "pi", "sensor-publish": section }));
      chmodSync(file, 0o640);
      const r = parseArgs(["--config-file", file]);
      if (!r.ok) throw new Error(r.message);
      const loaded = loadConfig(r.args, { HOME: tempDir() });
      if (!loaded.ok) throw new Error(loaded.message);
      expect(loaded.warnings).toEqual([]);
    }
  });

  test("a secure element (PKCS#11) without a key file stops with the fix; with a key file it warns", () => {
    const r = parseArgs(["--enable-secure-element", "true", "--pkcs11-lib", "/usr/lib/p.so"]);
    if (!r.ok) throw new Error(r.message);
    const loaded = loadConfig(r.args, { HOME: tempDir() });
    expect(loaded.ok).toBe(false);
    if (!loaded.ok) expect(loaded.message).toStartWith("PKCS#11 keys are not supported");
    if (!loaded.ok) expect(loaded.message).toContain("export the key to a PEM file and give --key");
    const withKey = parseArgs(["--enable-secure-element", "true", "--key", "/k.pem"]);
    if (!withKey.ok) throw new Error(withKey.message);
    const ok = loadConfig(withKey.args, { HOME: tempDir() });
    expect(ok.ok && ok.warnings[0]).toStartWith("Secure element (PKCS#11) is not provided");
  });

  test("the agent process: Device Client flags accepted, the warning logged once, the job still runs", () => {
    const dir = tempDir();
    const doc = join(dir, "job.json");
    writeFileSync(
      doc,
      JSON.stringify({
        version: "1.0",
        steps: [{ action: { name: "a", type: "runCommand", input: { command: "true" } } }],
      }),
    );
    const r = Bun.spawnSync(
      [
        process.execPath,
        join(REPO_ROOT, "src/main.ts"),
        "exec",
        doc,
        "--enable-tunneling",
        "true",
        "--tunneling-region",
        "eu-west-1",
        "--enable-sdk-logging",
        "--state-dir",
        join(dir, "s"),
      ],
      { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, HOME: dir } },
    );
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout.toString()).status).toBe("SUCCEEDED");
    const err = r.stderr.toString();
    expect(err.split("Secure tunneling is not provided").length - 1).toBe(1);
  });
});
