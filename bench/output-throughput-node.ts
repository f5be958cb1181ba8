/**
 * The output throughput benchmark on the Node build's platform (bun bench/output-throughput-node.ts
 * [MiB] [rounds]): bundles itself for Node with the Node adapter (as the Node build does) and runs
 * in `node --expose-gc`. What 32-bit ARM users get: child_process pipes instead of our libc pipes.
 * 1 GiB on stdout and 1 GiB on stderr through one step against the same generator piped into
 * `cat > /dev/null` in the same run. Goals for Node: ≤ 1.5× the pipe floor, RSS growth ≤ 16 MB.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

declare const Bun: typeof import("bun") | undefined;

if (typeof Bun !== "undefined") {
  const root = join(import.meta.dir, "..");
  const { nodePlatformPlugin } = await import("../scripts/cross-compile/node-build.ts");
  const out = mkdtempSync(join(tmpdir(), "bench-node-"));
  const built = await Bun.build({
    entrypoints: [import.meta.path],
    target: "node",
    format: "esm",
    outdir: out,
    plugins: [nodePlatformPlugin(root)],
  });
  if (!built.success) throw new Error(built.logs.join("\n"));
  const node = process.env.IOT_JOBS_TEST_NODE ?? "node";
  const r = spawnSync(node, ["--expose-gc", built.outputs[0]!.path, ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(r.status ?? 1);
} else {
  await main();
}

async function main(): Promise<void> {
  const { runJob } = await import("../src/runner/run-job.ts");
  const { lookupUser } = await import("../src/runner/user-lookup.ts");
  const { parseJobDocument } = await import("../src/jobdoc/parse.ts");
  const mib = Number(process.argv[2] ?? 1024);
  const rounds = Number(process.argv[3] ?? 3);
  const generator = `head -c ${mib}M /dev/zero | tr '\\0' 'a' & head -c ${mib}M /dev/zero | tr '\\0' 'b' >&2; wait`;
  const rssKb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))![1]);

  const baseline = async (): Promise<number> => {
    const fifo = `/tmp/iot-jobs-bench-${process.pid}.fifo`;
    const quoted = generator.replaceAll('"', '\\"');
    const script =
      `rm -f ${fifo}; mkfifo ${fifo}; cat ${fifo} > /dev/null & ` +
      `sh -c "${quoted}" 2> ${fifo} | cat > /dev/null; wait; rm -f ${fifo}`;
    const t0 = performance.now();
    await new Promise((resolve) => spawn("bash", ["-c", script], { stdio: "ignore" }).once("exit", resolve));
    return performance.now() - t0;
  };

  const agent = async (): Promise<{ ms: number; growthKb: number; cpuMs: number }> => {
    const command = `sh,-c,${generator.replaceAll(",", "\\,")}`;
    const parsed = parseJobDocument({
      version: "1.0",
      includeStdOut: true,
      steps: [{ action: { name: "firehose", type: "runCommand", input: { command } } }],
    });
    if (!parsed.ok) throw new Error("bad document");
    (globalThis as { gc?: () => void }).gc?.();
    const before = rssKb();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKb())), 20);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const out = await runJob(parsed.document, {
      handlerDirectory: "/nonexistent",
      stepTimeoutSeconds: 0,
      euid: process.geteuid!(),
      pathEnv: process.env.PATH!,
      lookupUser: (name, signal) => lookupUser(name, { pathEnv: process.env.PATH ?? "/usr/bin:/bin", signal }),
      env: { ...process.env },
      outputLines: { stderr: () => {} },
    });
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    clearInterval(sampler);
    peak = Math.max(peak, rssKb());
    const d = out.statusDetails;
    if (out.status !== "SUCCEEDED" || d.stdout !== "a".repeat(1024) || d.stderr !== "b".repeat(1024))
      throw new Error(`wrong result: ${JSON.stringify(d).slice(0, 200)}`);
    return { ms, growthKb: peak - before, cpuMs: (cpu.user + cpu.system) / 1000 };
  };

  const base: number[] = [];
  const ours: number[] = [];
  const cpus: number[] = [];
  let growth = 0;
  await agent(); // warm-up
  for (let i = 0; i < rounds; i++) {
    base.push(await baseline());
    const r = await agent();
    ours.push(r.ms);
    cpus.push(r.cpuMs);
    growth = Math.max(growth, r.growthKb);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const what = `${mib} MiB on stdout + ${mib} MiB on stderr, ${rounds} rounds, medians`;
  console.log(`output throughput on node ${process.version}: ${what}`);
  console.log(`  baseline (pipes into cat > /dev/null): ${median(base).toFixed(0)} ms`);
  console.log(`  agent runner (ring-buffer tails):      ${median(ours).toFixed(0)} ms`);
  // The agent's own CPU (its process only, not the step's): what a loaded machine's noise moves least.
  console.log(`  agent process CPU (user + system):     ${median(cpus).toFixed(0)} ms`);
  console.log(`  ratio: ${(median(ours) / median(base)).toFixed(3)} (goal ≤ 1.5)`);
  console.log(`  RSS growth during the step (peak): ${(growth / 1024).toFixed(1)} MB (goal ≤ 16 MB)`);
}
