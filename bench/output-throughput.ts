/**
 * 1 GiB on stdout and 1 GiB on stderr through one step (bun bench/output-throughput.ts [MiB]).
 * Baseline, measured in the same run: the same generator with both streams piped into
 * `cat > /dev/null`, the pipes' own cost. Goals: wall time ≤ 1.15× baseline, RSS growth ≤ 8 MB.
 */
import { runJob } from "../src/runner/run-job.ts";
import { lookupUser } from "../src/runner/user-lookup.ts";
import { parseJobDocument } from "../src/jobdoc/parse.ts";

const mib = Number(process.argv[2] ?? 1024);
const rounds = Number(process.argv[3] ?? 3);
const generator = `head -c ${mib}M /dev/zero | tr '\\0' 'a' & head -c ${mib}M /dev/zero | tr '\\0' 'b' >&2; wait`;

function rssKb(): number {
  const status = require("node:fs").readFileSync("/proc/self/status", "utf8") as string;
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

async function baseline(): Promise<number> {
  const fifo = `/tmp/iot-jobs-bench-${process.pid}.fifo`;
  const script = `rm -f ${fifo}; mkfifo ${fifo}; cat ${fifo} > /dev/null & sh -c "${generator.replaceAll('"', '\\"')}" 2> ${fifo} | cat > /dev/null; wait; rm -f ${fifo}`;
  const t0 = performance.now();
  const p = Bun.spawn(["bash", "-c", script], { stdout: "ignore", stderr: "ignore" });
  await p.exited;
  return performance.now() - t0;
}

async function agent(): Promise<{ ms: number; growthKb: number }> {
  const parsed = parseJobDocument({
    version: "1.0",
    includeStdOut: true,
    steps: [
      {
        action: {
          name: "firehose",
          type: "runCommand",
          input: { command: `sh,-c,${generator.replaceAll(",", "\\,")}` },
        },
      },
    ],
  });
  if (!parsed.ok) throw new Error("bad document");
  Bun.gc(true);
  const before = rssKb();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKb())), 20);
  const t0 = performance.now();
  const out = await runJob(parsed.document, {
    handlerDirectory: "/nonexistent",
    stepTimeoutSeconds: 0,
    euid: process.geteuid!(),
    pathEnv: process.env.PATH!,
    lookupUser: (name, signal) => lookupUser(name, { pathEnv: process.env.PATH ?? "/usr/bin:/bin", signal }),
    env: { ...process.env },
    // As the agent runs steps: stderr lines always go to its log (rate-limited).
    outputLines: { stderr: () => {} },
  });
  const ms = performance.now() - t0;
  clearInterval(sampler);
  peak = Math.max(peak, rssKb());
  if (
    out.status !== "SUCCEEDED" ||
    out.statusDetails.stdout !== "a".repeat(1024) ||
    out.statusDetails.stderr !== "b".repeat(1024)
  )
    throw new Error(`wrong result: ${JSON.stringify(out.statusDetails).slice(0, 200)}`);
  return { ms, growthKb: peak - before };
}

const base: number[] = [];
const ours: number[] = [];
let growth = 0;
await agent(); // warm-up
for (let i = 0; i < rounds; i++) {
  base.push(await baseline());
  const r = await agent();
  ours.push(r.ms);
  growth = Math.max(growth, r.growthKb);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`output throughput: ${mib} MiB on stdout + ${mib} MiB on stderr, ${rounds} rounds, medians`);
console.log(`  baseline (pipes into cat > /dev/null): ${median(base).toFixed(0)} ms`);
console.log(`  agent runner (ring-buffer tails):      ${median(ours).toFixed(0)} ms`);
console.log(`  ratio: ${(median(ours) / median(base)).toFixed(3)} (goal ≤ 1.15)`);
console.log(`  RSS growth during the step (peak): ${(growth / 1024).toFixed(1)} MB (goal ≤ 8 MB)`);
