/**
 * The Yocto layer without bitbake (none is available here): the layer and recipe variables, the
 * license checksum, every SRC_URI file, and the recipe's do_install run for real in a sandbox with
 * D and UNPACKDIR set (systemd and sysvinit images, glibc and musl), then its ptest against the
 * installed tree.
 */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { cpSync, existsSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { compiledAgent } from "../helpers/executables.ts";
import { nodeBuild } from "../helpers/runtimes.ts";
import { REPO_ROOT, tempDir } from "../helpers/temp.ts";

const layer = join(REPO_ROOT, "yocto/meta-iot-jobs-agent");
const recipeDir = join(layer, "recipes-iot/iot-jobs-agent");
const recipeFile = readdirSync(recipeDir).find((f) => f.endsWith(".bb"))!;
const recipe = readFileSync(join(recipeDir, recipeFile), "utf8");
const version = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;

/** `VAR = "value"` (and `VAR:override = "value"`) assignments, continuation lines joined. */
function variables(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.replace(/\\\n/g, " ").matchAll(/^([A-Za-z_][\w:${}-]*)\s*(\+?=|\?\?=|\.=)\s*"([^"]*)"/gm)) {
    out.set(m[1]!, m[2] === "+=" && out.has(m[1]!) ? `${out.get(m[1]!)} ${m[3]!}` : m[3]!.trim());
  }
  return out;
}
const vars = variables(recipe);

interface Machine {
  readonly arch: "aarch64" | "x86-64" | "arm";
  readonly libc: "glibc" | "musl";
  readonly features: string[];
}

/** What bitbake would make of the recipe's do_install for one machine, as a shell script. */
function installScript(machine: Machine, D: string, UNPACKDIR: string): string {
  const body = /^do_install\(\) \{\n([\s\S]*?)\n\}/m.exec(recipe)![1]!;
  const bin = binFor(machine);
  return body
    .replaceAll("${IOT_JOBS_AGENT_NODE}", machine.arch === "arm" ? "1" : "0")
    .replaceAll("${nonarch_libdir}", "/usr/lib")
    .replace(/\$\{@bb\.utils\.contains\('DISTRO_FEATURES', '(\w+)', 'true', 'false', d\)\}/g, (_, f: string) =>
      String(machine.features.includes(f)),
    )
    .replaceAll("${IOT_JOBS_AGENT_BIN}", bin)
    .replaceAll("${UNPACKDIR}", UNPACKDIR)
    .replaceAll("${D}", D)
    .replaceAll("${bindir}", "/usr/bin")
    .replaceAll("${sysconfdir}", "/etc")
    .replaceAll("${localstatedir}", "/var")
    .replaceAll("${systemd_system_unitdir}", "/lib/systemd/system");
}

/** The file the recipe installs for a machine (IOT_JOBS_AGENT_BIN with its overrides). */
function binFor(machine: Machine): string {
  if (machine.arch === "arm") return "iot-jobs-agent-node.mjs";
  return `iot-jobs-agent-${machine.arch === "aarch64" ? "linux-arm64" : "linux-x64"}${machine.libc === "musl" ? "-musl" : ""}`;
}

const mode = (path: string) => (statSync(path).mode & 0o7777).toString(8);

describe("meta-iot-jobs-agent", () => {
  test("layer.conf declares the collection, its pattern and compatible series", () => {
    const conf = readFileSync(join(layer, "conf/layer.conf"), "utf8");
    for (const line of [
      'BBFILE_COLLECTIONS += "iot-jobs-agent"',
      'BBFILE_PATTERN_iot-jobs-agent = "^${LAYERDIR}/"',
      "LAYERSERIES_COMPAT_iot-jobs-agent",
    ])
      expect(conf).toContain(line);
  });

  test("the recipe is the package's version, never strips, skips the prebuilt-binary QA checks, 64-bit or 32-bit ARM", () => {
    expect(recipeFile).toBe(`iot-jobs-agent_${version}.bb`);
    expect(vars.get("INHIBIT_PACKAGE_STRIP")).toBe("1");
    expect(vars.get("INHIBIT_PACKAGE_DEBUG_SPLIT")).toBe("1");
    expect(vars.get("INHIBIT_SYSROOT_STRIP")).toBe("1");
    expect(vars.get("INSANE_SKIP:${PN}")).toContain("already-stripped");
    const host = new RegExp(`^${vars.get("COMPATIBLE_HOST")}$`);
    expect(host.test("aarch64-poky-linux")).toBe(true);
    expect(host.test("x86_64-poky-linux-musl")).toBe(true);
    expect(host.test("arm-poky-linux-gnueabi")).toBe(true); // the Node build
    expect(host.test("i686-poky-linux")).toBe(false);
    expect(host.test("mips-poky-linux")).toBe(false);
    expect(recipe).toMatch(/^inherit .*\bsystemd\b.*\bupdate-rc\.d\b.*\bptest\b/m);
    expect(vars.get("SYSTEMD_SERVICE:${PN}")).toBe("iot-jobs-agent.service");
    expect(vars.get("INITSCRIPT_NAME")).toBe("iot-jobs-agent");
  });

  test("32-bit ARM machines get the Node build and RDEPEND on meta-oe's nodejs", () => {
    expect(vars.get("IOT_JOBS_AGENT_NODE")).toBe("0");
    expect(vars.get("IOT_JOBS_AGENT_NODE:arm")).toBe("1");
    expect(vars.get("IOT_JOBS_AGENT_BIN:arm")).toBe("iot-jobs-agent-node.mjs");
    expect(vars.get("RDEPENDS:${PN}:append:arm")).toBe("nodejs");
    expect(vars.get("FILES:${PN}:append:arm")).toBe("${nonarch_libdir}/iot-jobs-agent");
    // The musl C++ runtime is the Bun executable's need, not the Node build's.
    expect(vars.get("RDEPENDS:${PN}")).toContain("d.getVar('IOT_JOBS_AGENT_NODE') != '1'");
  });

  test("LIC_FILES_CHKSUM matches the LICENSE the recipe ships", () => {
    const [, file, md5] = /file:\/\/\$\{UNPACKDIR\}\/(\S+);md5=([0-9a-f]{32})/.exec(vars.get("LIC_FILES_CHKSUM")!)!;
    expect(
      createHash("md5")
        .update(readFileSync(join(recipeDir, "files", file!)))
        .digest("hex"),
    ).toBe(md5!);
  });

  test("every SRC_URI file is in files/ (executables once built)", () => {
    for (const suffix of ["linux-x64", "linux-arm64", "linux-arm64-musl", "linux-x64-musl"]) compiledAgent(suffix);
    nodeBuild();
    const uris = vars.get("SRC_URI")!.split(/\s+/).filter(Boolean);
    for (const uri of uris) {
      const name = uri.replace("file://", "").replaceAll("${IOT_JOBS_AGENT_BIN}", "iot-jobs-agent-node.mjs");
      expect([name, existsSync(join(recipeDir, "files", name))]).toEqual([name, true]);
    }
    for (const arch of ["linux-arm64", "linux-x64"]) {
      for (const libc of ["", "-musl"]) {
        for (const uri of uris) {
          const name = uri.replace("file://", "").replaceAll("${IOT_JOBS_AGENT_BIN}", `iot-jobs-agent-${arch}${libc}`);
          expect([name, existsSync(join(recipeDir, "files", name))]).toEqual([name, true]);
        }
      }
    }
  }, 300_000);

  for (const machine of [
    { arch: "x86-64", libc: "glibc", features: ["systemd"] },
    { arch: "x86-64", libc: "glibc", features: ["sysvinit"] },
    { arch: "aarch64", libc: "musl", features: ["sysvinit"] },
    { arch: "arm", libc: "glibc", features: ["sysvinit"] },
  ] as Machine[]) {
    test(`do_install in a sandbox: ${machine.arch} ${machine.libc}, ${machine.features.join("+")}`, () => {
      const bin = binFor(machine);
      if (machine.arch === "arm") nodeBuild();
      else compiledAgent(bin.replace("iot-jobs-agent-", ""));
      const unpack = tempDir("yocto-unpack-");
      // What the file:// fetcher leaves in UNPACKDIR: the files themselves (symlinks followed).
      for (const f of readdirSync(join(recipeDir, "files")))
        cpSync(join(recipeDir, "files", f), join(unpack, f), { recursive: true, dereference: true });
      const D = tempDir("yocto-image-");
      const r = Bun.spawnSync(["/bin/sh", "-e", "-c", installScript(machine, D, unpack)], {
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(r.exitCode, r.stderr.toString()).toBe(0);
      expect(r.stdout.toString()).toContain(`${bin}: OK`); // the sha256 check ran
      expect(mode(join(D, "usr/bin/iot-jobs-agent"))).toBe("755");
      expect(readFileSync(join(D, "usr/bin/iot-jobs-agent")).equals(readFileSync(join(REPO_ROOT, "dist", bin)))).toBe(
        true,
      );
      if (machine.arch === "arm") {
        expect(readlinkSync(join(D, "usr/bin/iot-jobs-agent"))).toBe("../lib/iot-jobs-agent/iot-jobs-agent.mjs");
        expect(mode(join(D, "usr/lib/iot-jobs-agent/iot-jobs-agent.mjs"))).toBe("755");
      }
      expect(mode(join(D, "etc/iot-jobs-agent"))).toBe("700");
      expect(mode(join(D, "etc/iot-jobs-agent/jobs"))).toBe("700");
      expect(mode(join(D, "etc/iot-jobs-agent/jobs/install-packages.sh"))).toBe("700");
      expect(mode(join(D, "etc/iot-jobs-agent/jobs/_common.sh"))).toBe("600");
      expect(mode(join(D, "etc/iot-jobs-agent/iot-jobs-agent.conf"))).toBe("600");
      expect(mode(join(D, "var/lib/iot-jobs-agent"))).toBe("700");
      expect(mode(join(D, "etc/logrotate.d/iot-jobs-agent"))).toBe("644");
      expect(existsSync(join(D, "lib/systemd/system/iot-jobs-agent.service"))).toBe(
        machine.features.includes("systemd"),
      );
      expect(existsSync(join(D, "etc/init.d/iot-jobs-agent"))).toBe(machine.features.includes("sysvinit"));

      if ((machine.arch === "x86-64" && machine.libc === "glibc") || machine.arch === "arm") {
        // The ptest, against the installed tree: the executable runs (not stripped) and runs a job;
        // the arm image's Node build is the same JavaScript on every CPU, so this machine's node runs it.
        const ptest = Bun.spawnSync(["/bin/sh", join(unpack, "run-ptest")], {
          stdout: "pipe",
          stderr: "pipe",
          env: {
            ...process.env,
            PATH: `${join(D, "usr/bin")}:${process.env.PATH}`,
            IOT_JOBS_PTEST_HANDLERS: join(D, "etc/iot-jobs-agent/jobs"),
          },
        });
        expect(ptest.stdout.toString()).toContain("PASS: exec health-check.sh");
        expect(ptest.exitCode).toBe(0);
      }
    }, 300_000);
  }

  test("the check is real: a corrupted executable fails do_install's sha256 check", () => {
    const unpack = tempDir("yocto-unpack-");
    for (const f of readdirSync(join(recipeDir, "files")))
      cpSync(join(recipeDir, "files", f), join(unpack, f), { recursive: true, dereference: true });
    Bun.spawnSync(["/bin/sh", "-c", `printf x >> ${join(unpack, "iot-jobs-agent-linux-x64")}`]);
    const r = Bun.spawnSync(
      [
        "/bin/sh",
        "-e",
        "-c",
        installScript({ arch: "x86-64", libc: "glibc", features: ["systemd"] }, tempDir(), unpack),
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    expect(r.exitCode).not.toBe(0);
  }, 60_000); // copies ~400 MiB of executables: more than the default 5 s on a loaded machine
});
