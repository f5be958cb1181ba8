/**
 * Debian packages of the agent (bun scripts/package/deb.ts [amd64|arm64|armhf]...): builds the
 * executable (armhf: the Node build, dist/iot-jobs-agent-node.mjs) if needed, stages the file tree with its modes, and runs `dpkg-deb --build
 * --root-owner-group`. Writes dist/iot-jobs-agent_<version>_<arch>.deb.
 *
 *   /usr/bin/iot-jobs-agent                       the executable (never stripped); on armhf a link to
 *   /usr/lib/iot-jobs-agent/iot-jobs-agent.mjs    the Node build, run by the distribution's nodejs (>= 20)
 *   /etc/iot-jobs-agent/iot-jobs-agent.conf       config template (0600, conffile)
 *   /etc/iot-jobs-agent/jobs/                     the shipped handlers (dir and files 0700, conffiles)
 *   /etc/logrotate.d/iot-jobs-agent               rotation of the SysV log file (reload → SIGHUP)
 *   /lib/systemd/system/iot-jobs-agent.service    the unit (not enabled until the config is edited)
 *   /etc/init.d/iot-jobs-agent                    the SysV script, for systems without systemd
 *   /usr/share/doc/iot-jobs-agent/                INSTALL.md, copyright
 * The service runs as root, as the Device Client does: handlers install packages and reboot.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NODE_BUILD_NAME } from "../cross-compile/node-build.ts";
import { TARGETS } from "../cross-compile/targets.ts";
import { debFileName } from "./deb-names.ts";

const root = join(import.meta.dir, "..", "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string; license: string };
const arches = process.argv.slice(2).length ? process.argv.slice(2) : ["amd64", "arm64", "armhf"];
/** Bun has no 32-bit ARM build: armhf gets the Node build and depends on the distribution's Node. */
const NODE_ARCHES = new Set(["armhf"]);
/** The oldest Node the Node build runs on (Debian trixie and Raspberry Pi OS trixie carry 20.19). */
const NODE_DEPENDS = "nodejs (>= 20)";

for (const arch of arches) {
  const onNode = NODE_ARCHES.has(arch);
  const target = TARGETS.find((t) => t.debianArch === arch && t.libc === "glibc");
  if (!target && !onNode) throw new Error(`no glibc target for Debian architecture ${arch}`);
  const suffix = target ? target.suffix : "node";
  const executable = join(root, "dist", target ? `iot-jobs-agent-${target.suffix}` : NODE_BUILD_NAME);
  if (!existsSync(executable)) {
    const r = Bun.spawnSync([process.execPath, join(root, "scripts/cross-compile/build.ts"), suffix], {
      cwd: root,
      stdout: "inherit",
      stderr: "inherit",
    });
    if (r.exitCode !== 0) throw new Error(`building ${suffix} failed`);
  }

  const stage = join(tmpdir(), `iot-jobs-deb-${arch}-${process.pid}`);
  rmSync(stage, { recursive: true, force: true });
  const put = (path: string, mode: number, from?: string, text?: string) => {
    const file = join(stage, path);
    mkdirSync(join(file, ".."), { recursive: true, mode: 0o755 });
    if (from) copyFileSync(from, file);
    else writeFileSync(file, text ?? "");
    chmodSync(file, mode);
  };
  const dir = (path: string, mode: number) => {
    mkdirSync(join(stage, path), { recursive: true });
    chmodSync(join(stage, path), mode);
  };

  if (onNode) {
    // Node tells ES modules by the .mjs of the real path: the link keeps `iot-jobs-agent` as the command.
    put("usr/lib/iot-jobs-agent/iot-jobs-agent.mjs", 0o755, executable);
    mkdirSync(join(stage, "usr/bin"), { recursive: true, mode: 0o755 });
    symlinkSync("../lib/iot-jobs-agent/iot-jobs-agent.mjs", join(stage, "usr/bin/iot-jobs-agent"));
  } else put("usr/bin/iot-jobs-agent", 0o755, executable);
  dir("etc/iot-jobs-agent", 0o700);
  put("etc/iot-jobs-agent/iot-jobs-agent.conf", 0o600, join(root, "packaging/config/iot-jobs-agent.conf"));
  dir("etc/iot-jobs-agent/jobs", 0o700);
  const handlers = readdirSync(join(root, "handlers"))
    .filter((f) => f.endsWith(".sh"))
    .sort();
  for (const h of handlers)
    put(`etc/iot-jobs-agent/jobs/${h}`, h.startsWith("_") ? 0o600 : 0o700, join(root, "handlers", h));
  put("lib/systemd/system/iot-jobs-agent.service", 0o644, join(root, "packaging/systemd/iot-jobs-agent.service"));
  put("etc/init.d/iot-jobs-agent", 0o755, join(root, "packaging/sysv/iot-jobs-agent"));
  put("usr/sbin/iot-jobs-agent-switch", 0o755, join(root, "packaging/switch/iot-jobs-agent-switch"));
  put("usr/share/doc/iot-jobs-agent/SWITCHING.md", 0o644, join(root, "docs/SWITCHING.md"));
  put("etc/logrotate.d/iot-jobs-agent", 0o644, join(root, "packaging/logrotate/iot-jobs-agent"));
  put("usr/share/doc/iot-jobs-agent/INSTALL.md", 0o644, join(root, "docs/INSTALL.md"));
  const runtimeNote = onNode
    ? "The program runs on the distribution's nodejs package; it bundles pino, valibot and TypeBox (MIT)."
    : "The executable embeds the Bun runtime (MIT; JavaScriptCore under LGPL-2.0-or-later and others).";
  put(
    "usr/share/doc/iot-jobs-agent/copyright",
    0o644,
    undefined,
    `iot-jobs-agent\nLicense: ${pkg.license}\n${runtimeNote}\n`,
  );

  dir("DEBIAN", 0o755);
  const installedKb = Math.ceil(du(stage) / 1024);
  put(
    "DEBIAN/control",
    0o644,
    undefined,
    [
      "Package: iot-jobs-agent",
      `Version: ${pkg.version}`,
      `Architecture: ${arch}`,
      "Maintainer: iot-jobs-agent maintainers <iot-jobs-agent@invalid>",
      `Installed-Size: ${installedKb}`,
      `Depends: ${onNode ? NODE_DEPENDS : "libc6"}`,
      "Recommends: sudo, curl | wget",
      "Section: admin",
      "Priority: optional",
      "Description: AWS IoT Jobs agent (drop-in for the AWS IoT Device Client's Jobs feature)",
      " Takes jobs through the AWS IoT Jobs MQTT API, runs their steps with the shipped or your",
      onNode
        ? " own handlers, and reports the result. One bundled file run by the distribution's Node.js."
        : " own handlers, and reports the result. One self-contained executable built with Bun.",
      "",
    ].join("\n"),
  );
  put(
    "DEBIAN/conffiles",
    0o644,
    undefined,
    [
      "/etc/iot-jobs-agent/iot-jobs-agent.conf",
      ...handlers.map((h) => `/etc/iot-jobs-agent/jobs/${h}`),
      "/etc/init.d/iot-jobs-agent",
      "/etc/logrotate.d/iot-jobs-agent",
      "",
    ].join("\n"),
  );
  for (const script of ["postinst", "prerm", "postrm"])
    put(`DEBIAN/${script}`, 0o755, join(root, "packaging/debian", script));

  const out = join(root, "dist", debFileName(pkg.version, arch));
  const r = Bun.spawnSync(["dpkg-deb", "--root-owner-group", "-Zxz", "-z1", "--build", stage, out], {
    stdout: "pipe",
    stderr: "pipe",
  });
  rmSync(stage, { recursive: true, force: true });
  if (r.exitCode !== 0) throw new Error(`dpkg-deb failed: ${r.stderr.toString()}`);
  console.log(`${out}  ${(statSync(out).size / 1048576).toFixed(1)} MiB`);
}

function du(path: string): number {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((n, f) => n + du(join(path, f)), 0);
}
