/** http-proxy.conf: keys, defaults, the mode-600 rule, host names, and the password kept out of messages. */
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "../../src/config/cli-args.ts";
import { describeProxy, loadHttpProxy, parseHttpProxy } from "../../src/config/http-proxy-config.ts";
import { loadConfig } from "../../src/config/load.ts";
import { connectRequest, tunnelVerdict } from "../../src/mqtt/http-proxy.ts";
import { tempDir } from "../helpers/temp.ts";

const PASSWORD = "pa:ss w0rd";
const full = {
  "http-proxy-enabled": true,
  "http-proxy-host": "proxy.corp.example",
  "http-proxy-port": "3128",
  "http-proxy-auth-method": "UserNameAndPassword",
  "http-proxy-username": "device-7",
  "http-proxy-password": PASSWORD,
};
const euid = process.geteuid?.() ?? 0;

function proxyFile(content: unknown, mode = 0o600, dir = tempDir()): string {
  const file = join(dir, "http-proxy.conf");
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  chmodSync(file, mode);
  return file;
}

describe("http-proxy.conf", () => {
  test("the Device Client's keys: host name, port as a string, Basic credentials", () => {
    const r = loadHttpProxy(proxyFile(full), true, euid);
    expect(r).toMatchObject({
      ok: true,
      proxy: { host: "proxy.corp.example", port: 3128, auth: { username: "device-7", password: PASSWORD } },
    });
    if (r.ok && r.proxy)
      expect(describeProxy(r.proxy)).toBe("proxy.corp.example:3128 (Basic authentication as device-7)");
  });

  test("addresses as well as names; auth method None; disabled means no proxy", () => {
    for (const host of ["10.0.0.5", "192.0.2.1", "::1", "[fd00::1]", "localhost"]) {
      const r = parseHttpProxy(
        {
          "http-proxy-enabled": true,
          "http-proxy-host": host,
          "http-proxy-port": 8080,
          "http-proxy-auth-method": "None",
        },
        "f",
      );
      expect(r).toMatchObject({ ok: true, proxy: { host: host.replace(/[[\]]/g, ""), port: 8080, auth: undefined } });
    }
    expect(parseHttpProxy({ ...full, "http-proxy-enabled": false }, "f")).toEqual({ ok: true, proxy: undefined });
    expect(parseHttpProxy({ "http-proxy-host": "x" }, "f")).toEqual({ ok: true, proxy: undefined });
  });

  test("bad values: a clear message each, never the password", () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ "http-proxy-port": "0" }, "http-proxy-port"],
      [{ "http-proxy-port": "65536" }, "http-proxy-port"],
      [{ "http-proxy-port": "80a" }, "http-proxy-port"],
      [{ "http-proxy-host": "bad host/x" }, "http-proxy-host"],
      [{ "http-proxy-auth-method": "Kerberos" }, "http-proxy-auth-method"],
      [{ "http-proxy-username": "" }, "http-proxy-username"],
      [{ "http-proxy-password": 5 }, "http-proxy-password"],
      [{ "http-proxy-enabled": "yes" }, "http-proxy-enabled"],
    ];
    for (const [change, key] of bad) {
      const r = parseHttpProxy({ ...full, ...change }, "f");
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.message).toContain(key);
        expect(r.message).not.toContain(PASSWORD);
      }
    }
  });

  test("a file group or others can read is refused with the chmod; a given file must exist; bad JSON is named", () => {
    const open = loadHttpProxy(proxyFile(full, 0o640), true, euid);
    expect(open.ok).toBe(false);
    if (!open.ok) {
      expect(open.message).toContain("has permissions 640");
      expect(open.message).toContain("chmod 600");
      expect(open.message).not.toContain(PASSWORD);
    }
    expect(loadHttpProxy(join(tempDir(), "none.conf"), true, euid)).toMatchObject({
      ok: false,
      message: expect.stringContaining("does not exist"),
    });
    expect(loadHttpProxy(join(tempDir(), "none.conf"), false, euid)).toEqual({ ok: true, proxy: undefined });
    expect(loadHttpProxy(proxyFile("{ not json"), true, euid)).toMatchObject({
      ok: false,
      message: expect.stringContaining("not valid JSON"),
    });
  });

  test("loadConfig: --http-proxy-config FILE, or http-proxy.conf beside the config file (~/.aws-iot-device-client by default)", () => {
    const home = tempDir();
    const dcDir = join(home, ".aws-iot-device-client");
    mkdirSync(dcDir);
    proxyFile(full, 0o600, dcDir);
    const byDefault = parseArgs(["--thing-name", "t"]);
    if (!byDefault.ok) throw new Error(byDefault.message);
    expect(loadConfig(byDefault.args, { HOME: home })).toMatchObject({
      ok: true,
      config: { httpProxy: { port: 3128 } },
      warnings: [],
    });

    const other = proxyFile({ ...full, "http-proxy-port": 8888 });
    const flagged = parseArgs(["--http-proxy-config", other]);
    if (!flagged.ok) throw new Error(flagged.message);
    expect(loadConfig(flagged.args, { HOME: home })).toMatchObject({ ok: true, config: { httpProxy: { port: 8888 } } });

    const none = parseArgs([]);
    if (!none.ok) throw new Error(none.message);
    const r = loadConfig(none.args, { HOME: tempDir() });
    expect(r.ok && r.config.httpProxy).toBeUndefined();
  });

  test("CONNECT request and the proxy's verdicts", () => {
    const r = parseHttpProxy(full, "f");
    if (!r.ok || !r.proxy) throw new Error("parse");
    const req = connectRequest(r.proxy, "a1b2.iot.eu-west-1.amazonaws.com", 8883);
    expect(req).toBe(
      `CONNECT a1b2.iot.eu-west-1.amazonaws.com:8883 HTTP/1.1\r\nHost: a1b2.iot.eu-west-1.amazonaws.com:8883\r\n` +
        `Proxy-Authorization: Basic ${Buffer.from(`device-7:${PASSWORD}`).toString("base64")}\r\n\r\n`,
    );
    expect(connectRequest({ ...r.proxy, auth: undefined }, "::1", 1883)).toBe(
      "CONNECT [::1]:1883 HTTP/1.1\r\nHost: [::1]:1883\r\n\r\n",
    );
    expect(tunnelVerdict("HTTP/1.1 200 Connection established")).toEqual({ ok: true });
    expect(tunnelVerdict("HTTP/1.0 407 Proxy Authentication Required")).toMatchObject({
      ok: false,
      reason: expect.stringContaining("authentication"),
    });
    expect(tunnelVerdict("HTTP/1.1 403 Forbidden")).toMatchObject({
      ok: false,
      reason: expect.stringContaining("refused the tunnel"),
    });
    expect(tunnelVerdict("SSH-2.0-OpenSSH\u001b[2J")).toMatchObject({
      ok: false,
      reason: expect.stringContaining("did not answer CONNECT with HTTP"),
    });
  });
});
