/**
 * The .deb: its file tree and modes always; and, where we may (root and IOT_JOBS_TEST_DPKG=1, as
 * in CI), a real `dpkg -i` on this machine, --version and a job through `exec` with the installed
 * handlers, then `dpkg -r` and `dpkg -P` leave nothing behind.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, tempDir } from "../helpers/temp.ts";

const dpkgDeb = Bun.which("dpkg-deb");
const version = (JSON.parse(await Bun.file(join(REPO_ROOT, "package.json")).text()) as { version: string }).version;
const deb = join(REPO_ROOT, "dist", `iot-jobs-agent_${version}_amd64.deb`);
const armhfDeb = join(REPO_ROOT, "dist", `iot-jobs-agent_${version}_armhf.deb`);
/** Installing the armhf package here runs it with this machine's node (at /usr/bin/node, where Debian puts it). */
const hostNode = existsSync("/usr/bin/node");
const mayInstall = process.geteuid?.() === 0 && process.env.IOT_JOBS_TEST_DPKG === "1";
if (!dpkgDeb) console.warn("SKIPPED: the .deb tests need dpkg-deb");
else if (!mayInstall)
  console.warn("SKIPPED (part): installing the .deb needs root and IOT_JOBS_TEST_DPKG=1 (CI sets it)");

const sh = (...argv: string[]) => {
  const r = Bun.spawnSync(argv, {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` },
  });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

describe.skipIf(!dpkgDeb)("Debian package", () => {
  test("builds, with the executable, handlers, config, unit and init script at their modes", () => {
    const built = sh(process.execPath, join(REPO_ROOT, "scripts/package/deb.ts"), "amd64");
    expect(built.code, built.err).toBe(0);
    const listing = sh("dpkg-deb", "-c", deb).out;
    const mode = (path: string) =>
      listing
        .split("\n")
        .find((l) => l.endsWith(` ./${path}`) || l.endsWith(` ./${path}/`))
        ?.split(/\s+/)[0];
    expect(mode("usr/bin/iot-jobs-agent")).toBe("-rwxr-xr-x");
    expect(mode("usr/sbin/iot-jobs-agent-switch")).toBe("-rwxr-xr-x");
    expect(mode("etc/iot-jobs-agent")).toBe("drwx------");
    expect(mode("etc/iot-jobs-agent/iot-jobs-agent.conf")).toBe("-rw-------");
    expect(mode("etc/iot-jobs-agent/jobs")).toBe("drwx------");
    expect(mode("etc/iot-jobs-agent/jobs/download-file.sh")).toBe("-rwx------");
    expect(mode("etc/iot-jobs-agent/jobs/_common.sh")).toBe("-rw-------");
    expect(mode("lib/systemd/system/iot-jobs-agent.service")).toBe("-rw-r--r--");
    expect(mode("etc/init.d/iot-jobs-agent")).toBe("-rwxr-xr-x");
    expect(mode("etc/logrotate.d/iot-jobs-agent")).toBe("-rw-r--r--");
    expect(listing).toContain("root/root");
    const info = sh("dpkg-deb", "-f", deb, "Package", "Architecture", "Version").out;
    expect(info).toContain("Package: iot-jobs-agent");
    expect(info).toContain("Architecture: amd64");
    const conffiles = sh("dpkg-deb", "-I", deb, "conffiles").out;
    expect(conffiles).toContain("/etc/iot-jobs-agent/iot-jobs-agent.conf");
    expect(conffiles).toContain("/etc/iot-jobs-agent/jobs/install-packages.sh");
    expect(conffiles).toContain("/etc/logrotate.d/iot-jobs-agent");
  }, 180_000);

  test("the arm64 package carries the aarch64 executable", () => {
    const built = sh(process.execPath, join(REPO_ROOT, "scripts/package/deb.ts"), "arm64");
    expect(built.code, built.err).toBe(0);
    const arm = join(REPO_ROOT, "dist", `iot-jobs-agent_${version}_arm64.deb`);
    expect(sh("dpkg-deb", "-f", arm, "Architecture").out.trim()).toBe("arm64");
    const root = tempDir("deb-arm64-");
    expect(sh("dpkg-deb", "-x", arm, root).code).toBe(0);
    const header = new Uint8Array(readFileSync(join(root, "usr/bin/iot-jobs-agent")).subarray(0, 64));
    expect(header[18]! | (header[19]! << 8)).toBe(183); // EM_AARCH64
  }, 180_000);

  test("the armhf package: the Node build behind /usr/bin/iot-jobs-agent, Depends nodejs (>= 20), runs as extracted", () => {
    const built = sh(process.execPath, join(REPO_ROOT, "scripts/package/deb.ts"), "armhf");
    expect(built.code, built.err).toBe(0);
    expect(sh("dpkg-deb", "-f", armhfDeb, "Architecture", "Depends").out).toBe(
      "Architecture: armhf\nDepends: nodejs (>= 20)\n",
    );
    const listing = sh("dpkg-deb", "-c", armhfDeb).out;
    expect(listing).toContain("./usr/bin/iot-jobs-agent -> ../lib/iot-jobs-agent/iot-jobs-agent.mjs");
    expect(listing).toMatch(/-rwxr-xr-x root\/root +\d+ \S+ \S+ \.\/usr\/lib\/iot-jobs-agent\/iot-jobs-agent\.mjs\n/);
    // The same unit, init script, handlers and config as the other architectures.
    const amd64 = sh("dpkg-deb", "-c", deb).out;
    const paths = (l: string) =>
      l
        .split("\n")
        .map((x) => x.split(/\s+/).slice(5).join(" "))
        .filter((x) => x.startsWith("./etc/") || x.includes("systemd"))
        .sort();
    if (existsSync(deb)) expect(paths(listing)).toEqual(paths(amd64));
    for (const script of ["postinst", "prerm", "postrm"])
      expect(sh("dpkg-deb", "-I", armhfDeb, script).out).toBe(
        readFileSync(join(REPO_ROOT, "packaging/debian", script), "utf8"),
      );
    // The bundle is the same JavaScript on every CPU: run it as unpacked, through the link, with this machine's node.
    const root = tempDir("deb-armhf-");
    expect(sh("dpkg-deb", "-x", armhfDeb, root).code).toBe(0);
    const agent = join(root, "usr/bin/iot-jobs-agent");
    expect(readFileSync(agent, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(sh(agent, "--version").out).toMatch(/^iot-jobs-agent \S+ \(\w+\) linux-\w+ \(node v\d+/);
    const doc = join(tempDir(), "job.json");
    writeFileSync(
      doc,
      JSON.stringify({
        version: "1.0",
        includeStdOut: true,
        steps: [{ action: { name: "health", type: "runHandler", input: { handler: "health-check.sh" } } }],
      }),
    );
    const run = sh(
      agent,
      "exec",
      doc,
      "--jobs-handler-dir",
      join(root, "etc/iot-jobs-agent/jobs"),
      "--state-dir",
      tempDir(),
    );
    expect(JSON.parse(run.out)).toMatchObject({
      status: "SUCCEEDED",
      statusDetails: { stdout: expect.stringContaining("healthy") },
    });
  }, 180_000);

  // Forced: the architecture (the bundle is the same JavaScript on every CPU) and the dependency
  // (dpkg wants nodejs:armhf, and this machine's node is amd64): the maintainer scripts run for real.
  test.skipIf(!mayInstall || !hostNode)(
    "armhf: dpkg -i (architecture and nodejs:armhf forced), the installed agent runs a job on this machine's node, dpkg -P",
    () => {
      const installed = sh("dpkg", "-i", "--force-architecture", "--force-depends", armhfDeb);
      try {
        expect(installed.code, installed.err).toBe(0);
        expect(installed.out).toContain("SWITCHING.md"); // postinst ran
        expect(sh("/usr/bin/iot-jobs-agent", "--version").out).toMatch(/\(node v\d+/);
        const doc = join(tempDir(), "job.json");
        writeFileSync(
          doc,
          JSON.stringify({
            version: "1.0",
            includeStdOut: true,
            steps: [{ action: { name: "health", type: "runHandler", input: { handler: "health-check.sh" } } }],
          }),
        );
        const run = sh(
          "/usr/bin/iot-jobs-agent",
          "exec",
          doc,
          "--jobs-handler-dir",
          "/etc/iot-jobs-agent/jobs",
          "--state-dir",
          tempDir(),
        );
        expect(JSON.parse(run.out)).toMatchObject({ status: "SUCCEEDED" });
        expect(sh("stat", "-c", "%a", "/var/lib/iot-jobs-agent").out.trim()).toBe("700");
      } finally {
        expect(sh("dpkg", "-P", "iot-jobs-agent").code).toBe(0);
      }
      expect(existsSync("/usr/lib/iot-jobs-agent")).toBe(false);
      expect(existsSync("/etc/iot-jobs-agent")).toBe(false);
    },
    120_000,
  );

  test.skipIf(!mayInstall)(
    "dpkg -i, --version, a job through exec with the installed handlers, dpkg -r, dpkg -P",
    () => {
      expect(existsSync(deb)).toBe(true);
      const installed = sh("dpkg", "-i", deb);
      try {
        expect(installed.code, installed.err).toBe(0);
        // The hint fits the machine: systemctl only where systemd runs.
        expect(installed.out).toContain(
          existsSync("/run/systemd/system")
            ? "systemctl enable --now iot-jobs-agent"
            : "update-rc.d iot-jobs-agent defaults",
        );
        expect(installed.out).toContain("SWITCHING.md");
        expect(sh("/usr/bin/iot-jobs-agent", "--version").out).toMatch(
          /^iot-jobs-agent \S+ \(\w+\) linux-x64 \(glibc\)/,
        );
        const doc = join(tempDir(), "job.json");
        writeFileSync(
          doc,
          JSON.stringify({
            version: "1.0",
            includeStdOut: true,
            steps: [{ action: { name: "health", type: "runHandler", input: { handler: "health-check.sh" } } }],
          }),
        );
        const run = sh(
          "/usr/bin/iot-jobs-agent",
          "exec",
          doc,
          "--jobs-handler-dir",
          "/etc/iot-jobs-agent/jobs",
          "--state-dir",
          tempDir(),
        );
        expect(JSON.parse(run.out)).toMatchObject({
          status: "SUCCEEDED",
          statusDetails: { stdout: expect.stringContaining("healthy") },
        });
        expect(sh("stat", "-c", "%a", "/var/lib/iot-jobs-agent").out.trim()).toBe("700");
      } finally {
        const removed = sh("dpkg", "-r", "iot-jobs-agent");
        expect(removed.code, removed.err).toBe(0);
      }
      expect(existsSync("/usr/bin/iot-jobs-agent")).toBe(false);
      expect(existsSync("/etc/iot-jobs-agent/iot-jobs-agent.conf")).toBe(true); // conffiles stay until purge
      writeFileSync("/var/log/iot-jobs-agent.log", "a log line\n"); // what the SysV script writes
      writeFileSync("/var/log/iot-jobs-agent.log.1", "a rotated log line\n");
      expect(sh("dpkg", "-P", "iot-jobs-agent").code).toBe(0);
      expect(existsSync("/var/log/iot-jobs-agent.log") || existsSync("/var/log/iot-jobs-agent.log.1")).toBe(false);
      expect(existsSync("/etc/iot-jobs-agent")).toBe(false);
      expect(existsSync("/var/lib/iot-jobs-agent")).toBe(false);
      expect(sh("dpkg", "-s", "iot-jobs-agent").code).not.toBe(0);
    },
    120_000,
  );
});
