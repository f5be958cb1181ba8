/**
 * Memory and event-loop stall of the service's S3 subset on a large artifact (issue 15):
 * `bun bench/s3-multipart-memory.ts [--mb 600] [--service-root DIR]` starts `iot-jobs-local serve`
 * from DIR (default this checkout; give another worktree to measure an earlier version in the same
 * run), uploads a file of that size with `aws s3 cp` (multipart, 8 MB parts) and downloads it again,
 * reading the service's VmRSS every 50 ms and timing a ListBuckets every 100 ms meanwhile.
 * Prints the RSS before, the peak during the upload and during the download, the slowest
 * ListBuckets, and whether the downloaded bytes are identical.
 */
import { createHash } from "node:crypto";
import { createReadStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { awsCliEnv } from "../test/helpers/local-service.ts";

const { values } = parseArgs({ options: { mb: { type: "string" }, "service-root": { type: "string" } } });
const mb = Number(values.mb ?? 600);
const root = resolve(values["service-root"] ?? join(import.meta.dir, ".."));
const work = mkdtempSync(join(tmpdir(), "s3-bench-"));
const env = awsCliEnv();

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** A file of `mb` MB written 1 MiB at a time (a random block with its index stamped in). */
async function makeFile(file: string): Promise<void> {
  const block = crypto.getRandomValues(new Uint8Array(1024 * 1024));
  const handle = await open(file, "w");
  const total = mb * 1_000_000;
  for (let written = 0, i = 0; written < total; i++) {
    new DataView(block.buffer).setUint32(0, i);
    const n = Math.min(block.length, total - written);
    await handle.write(block, 0, n);
    written += n;
  }
  await handle.close();
}

async function aws(...args: string[]): Promise<void> {
  const quiet = args[1] === "cp" ? ["--only-show-errors"] : [];
  const p = Bun.spawn(["aws", ...args, "--endpoint-url", http, ...quiet], { env, stdout: "ignore", stderr: "pipe" });
  if ((await p.exited) !== 0) throw new Error(`aws ${args.join(" ")}: ${await new Response(p.stderr).text()}`);
}

/** Samples RSS and ListBuckets latency until `done` settles. */
async function watch<T>(pid: number, done: Promise<T>): Promise<{ peak: number; slowest: number; at: number }> {
  const start = performance.now();
  let at = 0;
  let finished = false;
  done.finally(() => (finished = true)).catch(() => {});
  let peak = 0;
  let slowest = 0;
  const sampler = (async () => {
    while (!finished) {
      peak = Math.max(peak, rssMb(pid));
      await Bun.sleep(50);
    }
  })();
  const prober = (async () => {
    while (!finished) {
      const t = performance.now();
      const r = await fetch(`${http}/`, {
        headers: { authorization: "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/s3/aws4_request" },
      });
      await r.text();
      if (performance.now() - t > slowest) [slowest, at] = [performance.now() - t, (t - start) / 1000];
      await Bun.sleep(100);
    }
  })();
  await done;
  await Promise.all([sampler, prober]);
  console.error(
    `(took ${((performance.now() - start) / 1000).toFixed(1)} s; slowest request sent at ${at.toFixed(1)} s)`,
  );
  return { peak, slowest, at };
}

const proc = Bun.spawn(
  [process.execPath, join(root, "src/service/main.ts"), "serve", "--mqtt-port", "0", "--http-port", "0"],
  { stdout: "pipe", stderr: "ignore", cwd: work },
);
const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
let line = "";
while (!line.includes("\n")) {
  const { done, value } = await reader.read();
  if (done) throw new Error(`${root}/src/service/main.ts exited before printing its addresses`);
  line += new TextDecoder().decode(value);
}
reader.releaseLock();
const http = (JSON.parse(line.split("\n")[0]!) as { http: string }).http;
try {
  const up = join(work, "up.bin");
  const down = join(work, "down.bin");
  await makeFile(up);
  await aws("s3", "mb", "s3://bench");
  await Bun.sleep(500);
  const before = rssMb(proc.pid);
  const upload = await watch(proc.pid, aws("s3", "cp", up, "s3://bench/big.bin"));
  const download = await watch(proc.pid, aws("s3", "cp", "s3://bench/big.bin", down));
  const same = (await sha256File(up)) === (await sha256File(down));
  console.log(`service: ${root}; object: ${mb} MB (aws s3 cp, multipart)`);
  console.log(`RSS before: ${before.toFixed(0)} MB`);
  console.log(`upload:   peak RSS ${upload.peak.toFixed(0)} MB, slowest ListBuckets ${upload.slowest.toFixed(0)} ms`);
  console.log(
    `download: peak RSS ${download.peak.toFixed(0)} MB, slowest ListBuckets ${download.slowest.toFixed(0)} ms`,
  );
  console.log(`downloaded bytes identical: ${same}`);
} finally {
  proc.kill("SIGTERM");
  await proc.exited;
  rmSync(work, { recursive: true, force: true });
}
