/**
 * On demand (IOT_JOBS_FUZZ_OUTPUT_GIB=10): that many GiB of random bytes on stdout and on stderr at
 * once through a real step, each ending with a known, hostile suffix (NUL, escape sequences, \r,
 * invalid and multi-byte UTF-8). Each reported tail must be exactly the tail of the sanitised
 * stream — computable from the suffix alone — and memory must stay flat.
 */
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runJob } from "../../src/runner/run-job.ts";
import { sanitizeText, truncateTail } from "../../src/runner/sanitize.ts";
import { commandStep, parsed, testRunContext } from "../helpers/run-context.ts";
import { tempDir } from "../helpers/temp.ts";

const GIB = Number(process.env.IOT_JOBS_FUZZ_OUTPUT_GIB ?? 0);
if (!GIB)
  console.warn(
    "SKIPPED: the huge-output run is on demand: IOT_JOBS_FUZZ_OUTPUT_GIB=10 npm test -- test/fuzz/output-huge.test.ts",
  );

test.skipIf(!GIB)(
  `${GIB} GiB of random bytes on stdout and stderr: exact tails, flat memory`,
  async () => {
    const dir = tempDir();
    const parts: number[] = [];
    for (let i = 0; i < 6000; i++) {
      const r = Math.random();
      if (r < 0.05) parts.push(0x00);
      else if (r < 0.1) parts.push(0x1b, 0x5b, 0x32, 0x4b);
      else if (r < 0.15) parts.push(0x0d);
      else if (r < 0.2) parts.push(0xe2, 0x82, 0xac);
      else if (r < 0.22) parts.push(0xff);
      else parts.push(0x20 + Math.floor(Math.random() * 95));
    }
    const suffix = new Uint8Array([0x41, ...parts]); // starts on a character boundary
    writeFileSync(join(dir, "suffix"), suffix);
    const expected = truncateTail(sanitizeText(new TextDecoder().decode(suffix)), 1024);
    expect(sanitizeText(new TextDecoder().decode(suffix)).length).toBeGreaterThan(1024); // the suffix alone decides the tail
    const generate = (fd: string) => `{ head -c ${GIB}G /dev/urandom; cat ${join(dir, "suffix")}; } ${fd}`;
    const rss = () =>
      Number(/VmRSS:\s+(\d+)/.exec(require("node:fs").readFileSync("/proc/self/status", "utf8"))![1]) / 1024;
    Bun.gc(true);
    const before = rss();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 100);
    const doc = parsed({
      version: "1.0",
      includeStdOut: true,
      steps: [
        commandStep(
          "flood",
          `sh,-c,${generate("").replaceAll(",", "\\,")} & ${generate(">&2").replaceAll(",", "\\,")}; wait`,
        ),
      ],
    });
    const out = await runJob(doc, testRunContext(dir, { stepTimeoutSeconds: 0 }));
    clearInterval(sampler);
    console.log(`${GIB} GiB × 2: RSS growth ${(peak - before).toFixed(1)} MB`);
    expect(out.statusDetails.stdout).toBe(expected);
    expect(out.statusDetails.stderr).toBe(expected);
    expect(peak - before).toBeLessThan(32);
  },
  3_600_000,
);
