/**
 * npm run demo: one package-style job, end to end on this machine, no network beyond loopback.
 * A loopback HTTP server plays the package's download location; the agent's own runner (the
 * `exec` command, as a child process) runs examples/download-and-verify.json with the shipped
 * handlers, installed into a private handler directory with the modes the agent requires.
 * Prints the document, each step's outcome and the statusDetails the agent would report.
 * (When the local Jobs service lands, this grows into the full cloud loop.)
 */
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "iot-jobs-demo-"));
chmodSync(work, 0o700);
const handlers = join(work, "handlers");
require("node:fs").mkdirSync(handlers, { mode: 0o700 });
for (const name of readdirSync(join(root, "handlers"))) {
  copyFileSync(join(root, "handlers", name), join(handlers, name));
  chmodSync(join(handlers, name), name.startsWith("_") ? 0o600 : 0o700);
}

const payload = `demo-package 1.2.3\n${"firmware ".repeat(512)}\n`;
const sha256 = createHash("sha256").update(payload).digest("hex");
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(payload) });
const destination = join(work, "demo-package-1.2.3.bin");
const url = `http://127.0.0.1:${server.port}/packages/demo-package/1.2.3.bin`;

const template = readFileSync(join(root, "examples/download-and-verify.json"), "utf8");
const documentText = template.replaceAll("${url}", url).replaceAll("${destination}", destination).replaceAll("${sha256}", sha256);
const docFile = join(work, "job.json");
writeFileSync(docFile, documentText);

console.log("== Job document (substituted)");
console.log(JSON.stringify(JSON.parse(documentText).steps.map((s: { action: unknown }) => s.action), null, 2));

const proc = Bun.spawn([process.execPath, join(root, "src/main.ts"), "exec", docFile, "--jobs-handler-dir", handlers, "--state-dir", join(work, "state"), "--log-level", "INFO"], {
  stdout: "pipe",
  stderr: "pipe",
  cwd: work,
});
const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
server.stop(true);

console.log("\n== Steps");
for (const line of err.split("\n").filter(Boolean)) {
  try {
    const entry = JSON.parse(line) as { msg: string; step?: string; succeeded?: boolean; reason?: string };
    if (entry.msg === "Step ended") console.log(`  ${entry.succeeded ? "ok  " : "FAIL"} ${entry.step}: ${entry.reason}`);
  } catch {
    console.log(`  ${line}`);
  }
}
console.log("\n== Reported to the Jobs service");
console.log(out.trim());
rmSync(work, { recursive: true, force: true });
const status = (() => {
  try {
    return JSON.parse(out).status as string;
  } catch {
    return "unknown";
  }
})();
console.log(`\nResult: ${status}`);
process.exit(code === 0 && status === "SUCCEEDED" ? 0 : 1);
