/**
 * Idle RSS of the compiled agent, connected to Mosquitto and subscribed (bun bench/idle-rss.ts),
 * against baselines compiled and measured in the same run: bare Bun, Bun holding a node:net or a
 * Bun.connect socket, Bun with mqtt.js (what the agent used before its own client), and the
 * agent's libraries alone. `--quick`: bare Bun and the agent only (for trying one change).
 * `--agent-before BIN`: also an earlier build of the agent (e.g. main's), measured in the same run.
 */
import { mkdtempSync, readFileSync, writeFileSync, chmodSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Mosquitto } from "../test/helpers/mosquitto.ts";

const root = join(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "idle-rss-"));
const broker = await Mosquitto.start();
const port = broker.port;

const baselines: Record<string, string> = {
  "bare bun": `setInterval(() => {}, 1e9);`,
  "bun + node:net socket": `import { connect } from "node:net"; const s = connect(${port}, "127.0.0.1"); s.on("data", () => {}); setInterval(() => {}, 1e9);`,
  "bun + Bun.connect socket": `await Bun.connect({ hostname: "127.0.0.1", port: ${port}, socket: { data() {} } }); setInterval(() => {}, 1e9);`,
  "bun + mqtt.js (connected, subscribed)": `import mqtt from "mqtt"; const c = mqtt.connect("mqtt://127.0.0.1:${port}", { clientId: "rss-mqtt" }); c.on("connect", () => c.subscribe("a/b", { qos: 1 })); setInterval(() => {}, 1e9);`,
  "bun + mqtt.js import only": `import mqtt from "mqtt"; (globalThis as any).m = mqtt; setInterval(() => {}, 1e9);`,
  "agent's libraries alone (logger, valibot, TypeBox compiler, node:fs) + Bun.connect": `import { createLogger } from "${root}/src/log/logger.ts"; import { parseJobDocument } from "${root}/src/jobdoc/parse.ts"; import { decodeMessage, ExecutionResponse } from "${root}/src/protocol/messages.ts"; createLogger({ level: "INFO", type: "stdout" }).info("x"); (globalThis as any).k = [parseJobDocument({}), decodeMessage(ExecutionResponse, "{}")]; await Bun.connect({ hostname: "127.0.0.1", port: ${port}, socket: { data() {} } }); setInterval(() => {}, 1e9);`,
};

function status(pid: number): { rss: number; anon: number; file: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)![1]) / 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
}

async function measure(argv: string[], settleMs = 2500) {
  const p = Bun.spawn(argv, { stdout: "ignore", stderr: "ignore", cwd: work });
  await Bun.sleep(settleMs);
  const s = status(p.pid);
  p.kill("SIGKILL");
  await p.exited;
  return s;
}

const quick = process.argv.includes("--quick");
const rows: [string, { rss: number; anon: number; file: number }][] = [];
for (const [name, code] of Object.entries(baselines)) {
  if (quick && name !== "bare bun") continue;
  const src = join(root, "bench", `.rss-${Object.keys(baselines).indexOf(name)}.ts`);
  writeFileSync(src, code);
  const out = join(work, `b${rows.length}`);
  const r = Bun.spawnSync([process.execPath, "build", "--compile", "--minify", src, "--outfile", out], { cwd: root });
  require("node:fs").rmSync(src);
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  rows.push([name, await measure([out])]);
}

const agentBin = join(root, "dist", "iot-jobs-agent-linux-x64");
Bun.spawnSync([process.execPath, join(root, "scripts/cross-compile/build.ts"), "linux-x64"], { cwd: root });
const handlers = join(work, "handlers");
mkdirSync(handlers, { mode: 0o700 });
chmodSync(handlers, 0o700);
const agentArgs = (bin: string, thing: string) => [
  bin,
  "--endpoint",
  `mqtt://127.0.0.1:${port}`,
  "--thing-name",
  thing,
  "--jobs-handler-dir",
  handlers,
  "--state-dir",
  join(work, `state-${thing}`),
  "--log-level",
  "ERROR",
];
const before = process.argv.indexOf("--agent-before");
if (before > 0)
  rows.push([
    `iot-jobs-agent before (${process.argv[before + 1]})`,
    await measure(agentArgs(process.argv[before + 1]!, "rss-before"), 3000),
  ]);
rows.push([
  "iot-jobs-agent (connected, subscribed, idle)",
  await measure(
    [
      agentBin,
      "--endpoint",
      `mqtt://127.0.0.1:${port}`,
      "--thing-name",
      "rss-agent",
      "--jobs-handler-dir",
      handlers,
      "--state-dir",
      join(work, "state"),
      "--log-level",
      "ERROR",
    ],
    3000,
  ),
]);
await broker.stop();

const bare = rows[0]![1].rss;
console.log("idle RSS, x64, MB (VmRSS = anonymous + file-backed pages of the executable)");
console.log("| process | RSS | anon | file | × bare |");
console.log("|---|---:|---:|---:|---:|");
for (const [name, s] of rows)
  console.log(
    `| ${name} | ${s.rss.toFixed(1)} | ${s.anon.toFixed(1)} | ${s.file.toFixed(1)} | ${(s.rss / bare).toFixed(2)} |`,
  );
