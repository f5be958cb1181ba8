/**
 * The Buildroot BR2_EXTERNAL tree without Buildroot (none is available here): its files, and the
 * package's .mk evaluated by GNU make with Buildroot's variables stubbed, running its install
 * commands into a sandbox TARGET_DIR for each architecture, libc and init system.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compiledAgent } from "../helpers/executables.ts";
import { nodeBuild } from "../helpers/runtimes.ts";
import { REPO_ROOT, tempDir } from "../helpers/temp.ts";

const tree = join(REPO_ROOT, "buildroot");
const make = Bun.which("make");
if (!make) console.warn("SKIPPED (part): the Buildroot .mk test needs GNU make (apt-get install -y make)");
const mode = (path: string) => (statSync(path).mode & 0o7777).toString(8);

interface Case {
  readonly arch: "aarch64" | "x86_64" | "arm";
  readonly musl: boolean;
  readonly init: "sysv" | "systemd";
}

function runMk(c: Case, targetDir: string): { code: number; out: string } {
  const lines = [
    `BR2_EXTERNAL_IOT_JOBS_AGENT_PATH := ${tree}`,
    `TARGET_DIR := ${targetDir}`,
    "INSTALL := install",
    `BR2_${c.arch} := y`,
    ...(c.arch === "arm" ? ["BR2_PACKAGE_NODEJS := y"] : []),
    c.musl ? "BR2_TOOLCHAIN_USES_MUSL := y" : "BR2_TOOLCHAIN_USES_GLIBC := y",
    'BR2_STRIP_EXCLUDE_FILES := "libkeep.so"',
    "generic-package :=",
    'qstrip = $(strip $(subst ",,$(1)))',
    `include ${join(tree, "external.mk")}`,
    "install:",
    "\t$(IOT_JOBS_AGENT_INSTALL_TARGET_CMDS)",
    `\t$(IOT_JOBS_AGENT_INSTALL_INIT_${c.init === "sysv" ? "SYSV" : "SYSTEMD"})`,
    "strip-exclusions:",
    "\t@echo $(call qstrip,$(BR2_STRIP_EXCLUDE_FILES))",
    "\t@echo dependencies: $(IOT_JOBS_AGENT_DEPENDENCIES)",
    "",
  ];
  const makefile = join(tempDir("br-"), "Makefile");
  writeFileSync(makefile, lines.join("\n"));
  const r = Bun.spawnSync([make!, "-f", makefile, "install", "strip-exclusions"], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

describe("Buildroot BR2_EXTERNAL tree", () => {
  test("external.desc, Config.in and external.mk follow the BR2_EXTERNAL layout", () => {
    expect(readFileSync(join(tree, "external.desc"), "utf8")).toMatch(/^name: IOT_JOBS_AGENT$/m);
    expect(readFileSync(join(tree, "Config.in"), "utf8")).toContain(
      'source "$BR2_EXTERNAL_IOT_JOBS_AGENT_PATH/package/iot-jobs-agent/Config.in"',
    );
    expect(readFileSync(join(tree, "external.mk"), "utf8")).toContain(
      "$(BR2_EXTERNAL_IOT_JOBS_AGENT_PATH)/package/*/*.mk",
    );
    const config = readFileSync(join(tree, "package/iot-jobs-agent/Config.in"), "utf8");
    expect(config).toContain("config BR2_PACKAGE_IOT_JOBS_AGENT");
    expect(config).toContain("depends on BR2_aarch64 || BR2_x86_64");
    expect(config).toMatch(/comment ".*32-bit/);
    const mk = readFileSync(join(tree, "package/iot-jobs-agent/iot-jobs-agent.mk"), "utf8");
    expect(mk.trimEnd().endsWith("$(eval $(generic-package))")).toBe(true);
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;
    expect(mk).toContain(`IOT_JOBS_AGENT_VERSION = ${version}`);
  });

  for (const c of [
    { arch: "aarch64", musl: false, init: "sysv" },
    { arch: "aarch64", musl: true, init: "sysv" },
    { arch: "x86_64", musl: false, init: "systemd" },
  ] as Case[]) {
    test.skipIf(!make)(
      `install commands: ${c.arch} ${c.musl ? "musl" : "glibc"} ${c.init}`,
      () => {
        const bin = `iot-jobs-agent-${c.arch === "aarch64" ? "linux-arm64" : "linux-x64"}${c.musl ? "-musl" : ""}`;
        compiledAgent(bin.replace("iot-jobs-agent-", ""));
        const target = tempDir("br-target-");
        const r = runMk(c, target);
        expect(r.code, r.out).toBe(0);
        expect(r.out).toContain(`${bin}: OK`);
        expect(
          readFileSync(join(target, "usr/bin/iot-jobs-agent")).equals(readFileSync(join(REPO_ROOT, "dist", bin))),
        ).toBe(true);
        expect(mode(join(target, "usr/bin/iot-jobs-agent"))).toBe("755");
        expect(mode(join(target, "etc/iot-jobs-agent/jobs"))).toBe("700");
        expect(mode(join(target, "etc/iot-jobs-agent/jobs/reboot.sh"))).toBe("700");
        expect(mode(join(target, "etc/iot-jobs-agent/jobs/_common.sh"))).toBe("600");
        expect(mode(join(target, "etc/iot-jobs-agent/iot-jobs-agent.conf"))).toBe("600");
        expect(mode(join(target, "var/lib/iot-jobs-agent"))).toBe("700");
        expect(mode(join(target, "etc/logrotate.d/iot-jobs-agent"))).toBe("644");
        expect(existsSync(join(target, "etc/init.d/S95iot-jobs-agent"))).toBe(c.init === "sysv");
        expect(existsSync(join(target, "usr/lib/systemd/system/iot-jobs-agent.service"))).toBe(c.init === "systemd");
        // The strip step's exclusion list keeps what the defconfig had and adds the agent.
        expect(r.out).toContain("libkeep.so iot-jobs-agent");
        expect(r.out).toContain("dependencies:\n");
      },
      300_000,
    );
  }

  test.skipIf(!make)(
    "install commands: 32-bit arm (BR2_arm) with nodejs: the Node build behind /usr/bin, depends on nodejs",
    () => {
      const mjs = nodeBuild();
      const target = tempDir("br-target-arm-");
      const r = runMk({ arch: "arm", musl: false, init: "sysv" }, target);
      expect(r.code, r.out).toBe(0);
      expect(r.out).toContain("iot-jobs-agent-node.mjs: OK");
      expect(r.out).toContain("dependencies: nodejs\n");
      expect(readFileSync(join(target, "usr/lib/iot-jobs-agent/iot-jobs-agent.mjs")).equals(readFileSync(mjs))).toBe(
        true,
      );
      expect(mode(join(target, "usr/lib/iot-jobs-agent/iot-jobs-agent.mjs"))).toBe("755");
      expect(readlinkSync(join(target, "usr/bin/iot-jobs-agent"))).toBe("../lib/iot-jobs-agent/iot-jobs-agent.mjs");
      expect(mode(join(target, "etc/iot-jobs-agent/jobs"))).toBe("700");
      expect(existsSync(join(target, "etc/init.d/S95iot-jobs-agent"))).toBe(true);
      // What the target's init script starts, as installed (the bundle is the same on every CPU).
      const version = Bun.spawnSync([join(target, "usr/bin/iot-jobs-agent"), "--version"], { stdout: "pipe" });
      expect(version.stdout.toString()).toMatch(/\(node v\d+/);
    },
    300_000,
  );

  test("Config.in: 32-bit ARM only with nodejs, and says so when it is off", () => {
    const config = readFileSync(join(tree, "package/iot-jobs-agent/Config.in"), "utf8");
    expect(config).toContain("depends on BR2_aarch64 || BR2_x86_64 || (BR2_arm && BR2_PACKAGE_NODEJS)");
    expect(config).toMatch(/comment "[^"]*32-bit ARM[^"]*nodejs[^"]*"\n\tdepends on BR2_arm && !BR2_PACKAGE_NODEJS/);
  });
});
