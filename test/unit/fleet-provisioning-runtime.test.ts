/**
 * The Device Client's fleet-provisioning runtime config
 * (~/.aws-iot-device-client/aws-iot-device-client-runtime.conf) [DC-CONFIG-runtime]: once provisioning
 * completed, its cert, key and thing name win over the config file and the flags.
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "../../src/config/cli-args.ts";
import { loadConfig } from "../../src/config/load.ts";
import { REPO_ROOT, tempDir } from "../helpers/temp.ts";

/** A HOME with the Device Client's config directory, its config file and (optionally) a runtime config. */
function deviceHome(runtime: unknown, mode = 0o640): { home: string; configFile: string; runtimeFile: string } {
  const home = tempDir("fp-home-");
  const dir = join(home, ".aws-iot-device-client");
  mkdirSync(dir, { mode: 0o700 });
  const configFile = join(dir, "aws-iot-device-client.conf");
  writeFileSync(
    configFile,
    JSON.stringify({
      endpoint: "mqtt://127.0.0.1:1",
      "thing-name": "claim-thing",
      cert: "/claim/claim.pem.crt",
      key: "/claim/claim.pem.key",
      "fleet-provisioning": { enabled: true },
    }),
  );
  chmodSync(configFile, 0o640);
  const runtimeFile = join(dir, "aws-iot-device-client-runtime.conf");
  if (runtime !== undefined) {
    writeFileSync(runtimeFile, typeof runtime === "string" ? runtime : JSON.stringify(runtime));
    chmodSync(runtimeFile, mode);
  }
  return { home, configFile, runtimeFile };
}

function load(argv: string[], home: string) {
  const parsed = parseArgs(argv);
  if (!parsed.ok) throw new Error(parsed.message);
  return loadConfig(parsed.args, { HOME: home });
}

const provisioned = {
  "runtime-config": {
    "completed-fp": true,
    cert: "~/.aws-iot-device-client/certs/provisioned.pem.crt",
    key: "~/.aws-iot-device-client/keys/provisioned.pem.key",
    "thing-name": "provisioned-pi-7",
  },
};

describe("fleet provisioning runtime config", () => {
  test("completed: its thing name, cert and key (~ expanded) win over the config file and the flags", () => {
    const { home, configFile, runtimeFile } = deviceHome(provisioned);
    const loaded = load(["--config-file", configFile, "--thing-name", "flag-thing", "--cert", "/flag.crt"], home);
    if (!loaded.ok) throw new Error(loaded.message);
    expect(loaded.config.thingName).toBe("provisioned-pi-7");
    expect(loaded.config.cert).toBe(join(home, ".aws-iot-device-client/certs/provisioned.pem.crt"));
    expect(loaded.config.key).toBe(join(home, ".aws-iot-device-client/keys/provisioned.pem.key"));
    expect(loaded.config.endpoint).toBe("mqtt://127.0.0.1:1");
    expect(loaded.notices).toEqual([expect.stringContaining(`fleet provisioning (${runtimeFile})`)]);
  });

  test("read from HOME whatever --config-file says (the Device Client's fixed path)", () => {
    const { home } = deviceHome(provisioned);
    const elsewhere = join(tempDir(), "dc.conf");
    writeFileSync(elsewhere, JSON.stringify({ "thing-name": "claim-thing" }));
    chmodSync(elsewhere, 0o640);
    const loaded = load(["--config-file", elsewhere], home);
    expect(loaded.ok && loaded.config.thingName).toBe("provisioned-pi-7");
  });

  test("no runtime config: the config file's identity, no notice, no warning about it", () => {
    const { home, configFile } = deviceHome(undefined);
    const loaded = load(["--config-file", configFile], home);
    if (!loaded.ok) throw new Error(loaded.message);
    expect(loaded.config.thingName).toBe("claim-thing");
    expect(loaded.config.cert).toBe("/claim/claim.pem.crt");
    expect(loaded.notices).toEqual([]);
    expect(loaded.warnings.join("\n")).not.toContain("runtime config");
  });

  test('"completed-fp" false (or absent): ignored with one warning, the config file\'s identity is used', () => {
    for (const runtime of [
      { "runtime-config": { ...provisioned["runtime-config"], "completed-fp": false } },
      { "runtime-config": { "thing-name": "provisioned-pi-7" } },
    ]) {
      const { home, configFile } = deviceHome(runtime);
      const loaded = load(["--config-file", configFile], home);
      if (!loaded.ok) throw new Error(loaded.message);
      expect(loaded.config.thingName).toBe("claim-thing");
      expect(loaded.warnings.filter((w) => w.includes('does not say "completed-fp": true'))).toHaveLength(1);
    }
  });

  test("completed but unusable (a key missing, not JSON, a wrong type): fatal, naming the file and the fix", () => {
    const cases: [unknown, string][] = [
      [
        { "runtime-config": { "completed-fp": true, cert: "/c", "thing-name": "t" } },
        "completed-fp is true but runtime-config.key is missing or empty",
      ],
      [
        { "runtime-config": { "completed-fp": true, cert: "", key: "", "thing-name": "t" } },
        "runtime-config.cert, runtime-config.key are missing or empty",
      ],
      ['{"runtime-config": {"completed-fp": tru', "is not valid JSON"],
      [{ "runtime-config": { "completed-fp": "yes" } }, "runtime-config.completed-fp: expected true or false"],
    ];
    for (const [runtime, expected] of cases) {
      const { home, configFile, runtimeFile } = deviceHome(runtime);
      const loaded = load(["--config-file", configFile], home);
      expect(loaded.ok).toBe(false);
      if (loaded.ok) continue;
      expect(loaded.message).toStartWith(`Fleet provisioning runtime config ${runtimeFile}`);
      expect(loaded.message).toContain(expected);
      expect(loaded.message).toEndWith("fix it, or remove it to use the config file's cert, key and thing-name");
    }
  });

  test("writable by group or others: used, with a warning and the chmod", () => {
    const { home, configFile, runtimeFile } = deviceHome(provisioned, 0o666);
    const loaded = load(["--config-file", configFile], home);
    if (!loaded.ok) throw new Error(loaded.message);
    expect(loaded.config.thingName).toBe("provisioned-pi-7");
    expect(loaded.warnings).toContainEqual(expect.stringContaining(`run: chmod 640 ${runtimeFile}`));
  });

  test("the agent process started with a Device Client config connects as the provisioned thing", async () => {
    const { home, configFile } = deviceHome(provisioned);
    mkdirSync(join(home, ".aws-iot-device-client", "jobs"), { mode: 0o700 });
    const child = Bun.spawn(
      [process.execPath, join(REPO_ROOT, "src/main.ts"), "--config-file", configFile, "--state-dir", join(home, "s")],
      { cwd: home, stdout: "pipe", stderr: "pipe", env: { ...process.env, HOME: home } },
    );
    const timer = setTimeout(() => child.kill(), 10_000);
    let out = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      out += decoder.decode(chunk);
      if (out.includes('"msg":"Starting"')) break;
    }
    clearTimeout(timer);
    child.kill();
    await child.exited;
    const starting = out
      .split("\n")
      .filter((l) => l.includes('"msg":"Starting"'))
      .map((l) => JSON.parse(l));
    expect(starting).toHaveLength(1);
    expect(starting[0].thingName).toBe("provisioned-pi-7");
    expect(out).toContain("Using the thing name, certificate and key of fleet provisioning");
  });
});
