import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../helpers/temp.ts";

// `npm run release` from this checkout: every executable and .deb, SHA256SUMS that `sha256sum -c`
// accepts, and the version and revision inside the executables (the script runs them to check).
const hasDpkg = Bun.which("dpkg-deb") !== null;

describe("release artifacts", () => {
  test.skipIf(!hasDpkg)(
    "npm run release writes every executable, the .debs and a SHA256SUMS that verifies",
    () => {
      const r = Bun.spawnSync([process.execPath, join(REPO_ROOT, "scripts/release.ts")], {
        cwd: REPO_ROOT,
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(r.stderr.toString() + r.stdout.toString()).toContain("SHA256SUMS");
      expect(r.exitCode).toBe(0);
      const dir = join(REPO_ROOT, "dist", "release");
      const sums = readFileSync(join(dir, "SHA256SUMS"), "utf8").trim().split("\n");
      const names = sums.map((line) => line.split(/\s+/)[1]);
      const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
      expect(names).toEqual(
        expect.arrayContaining([
          "iot-jobs-agent-linux-x64",
          "iot-jobs-agent-linux-arm64",
          "iot-jobs-agent-linux-arm64-musl",
          "iot-jobs-agent-linux-x64-musl",
          "iot-jobs-local-linux-x64",
          `iot-jobs-agent_${pkg.version}_amd64.deb`,
          `iot-jobs-agent_${pkg.version}_arm64.deb`,
          "iot-jobs-agent-node.mjs",
          `iot-jobs-agent_${pkg.version}_armhf.deb`,
        ]),
      );
      const check = Bun.spawnSync(["sha256sum", "-c", "SHA256SUMS"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
      expect(check.stdout.toString()).not.toContain("FAILED");
      expect(check.exitCode).toBe(0);
      const revision = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: REPO_ROOT })
        .stdout.toString()
        .trim();
      expect(readFileSync(join(dir, "VERSION"), "utf8")).toBe(`${pkg.version} ${revision}\n`);
      const version = Bun.spawnSync([join(dir, "iot-jobs-agent-linux-x64"), "--version"]).stdout.toString();
      expect(version).toContain(revision);
    },
    300_000,
  );
});
