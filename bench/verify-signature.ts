/**
 * verify-signature throughput (bun bench/verify-signature.ts [MiB] [rounds]; default 1024 MiB, 3).
 * Baseline, measured in the same run on the same file (page cache warm for both):
 * `openssl dgst -sha256 -verify PUB -signature SIG FILE`. Both for a P-256 and an RSA-2048
 * signature; the agent is the compiled dist/iot-jobs-agent-linux-x64 (built if stale). Goal:
 * wall time ≤ 1.2× openssl's. Prints the median of the rounds and the agent's peak RSS.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compiledAgent } from "../test/helpers/executables.ts";

const mib = Number(process.argv[2] ?? 1024);
const rounds = Number(process.argv[3] ?? 3);
const dir = mkdtempSync(join(tmpdir(), "iot-jobs-bench-sig-"));
const f = (name: string) => join(dir, name);
const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });

function timed(argv: string[]): { ms: number; maxRss: number } {
  const t0 = performance.now();
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stdout.toString()}${r.stderr.toString()}`);
  return { ms, maxRss: r.resourceUsage.maxRSS };
}

const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const agent = compiledAgent("linux-x64");
  execFileSync("sh", ["-c", `head -c ${mib}M /dev/urandom > '${f("artifact")}'`]);
  ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key");
  ssl("req", "-x509", "-new", "-key", "ec.key", "-subj", "/CN=bench", "-days", "1", "-out", "ec.crt");
  ssl("ec", "-in", "ec.key", "-pubout", "-out", "ec.pub");
  ssl("genrsa", "-out", "rsa.key", "2048");
  ssl("rsa", "-in", "rsa.key", "-pubout", "-out", "rsa.pub");
  console.log(`verify-signature on ${mib} MiB, ${rounds} rounds (median), ${new Date().toISOString().slice(0, 10)}`);
  console.log("| signature | openssl dgst -verify | iot-jobs-agent verify-signature | × openssl | agent peak RSS |");
  console.log("|---|---:|---:|---:|---:|");
  for (const [name, key, pub, cert] of [
    ["P-256", "ec.key", "ec.pub", "ec.crt"],
    ["RSA-2048", "rsa.key", "rsa.pub", "rsa.pub"],
  ] as const) {
    ssl("dgst", "-sha256", "-sign", key, "-out", `${key}.sig`, "artifact");
    const flag = cert.endsWith(".crt") ? "--cert" : "--public-key";
    const opensslRun = ["openssl", "dgst", "-sha256", "-verify", f(pub), "-signature", f(`${key}.sig`), f("artifact")];
    const agentRun = [agent, "verify-signature", flag, f(cert), "--signature", `@${f(`${key}.sig`)}`, f("artifact")];
    timed(opensslRun); // warm the page cache
    const o: number[] = [];
    const a: number[] = [];
    let rss = 0;
    for (let i = 0; i < rounds; i++) {
      o.push(timed(opensslRun).ms);
      const run = timed(agentRun);
      a.push(run.ms);
      rss = Math.max(rss, run.maxRss);
    }
    const om = median(o);
    const am = median(a);
    const mbps = (ms: number) => `${(mib / (ms / 1000)).toFixed(0)} MiB/s`;
    console.log(
      `| ${name} | ${(om / 1000).toFixed(2)} s (${mbps(om)}) | ${(am / 1000).toFixed(2)} s (${mbps(am)}) | ${(am / om).toFixed(2)} | ${(rss / 1048576).toFixed(1)} MB |`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
