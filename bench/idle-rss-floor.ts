/**
 * The floor of idle RSS on Bun (bun bench/idle-rss-floor.ts [--runs N] [--quick] [--no-build] [--settle MS]
 * [--after-pageout MS]):
 * how close to bare Bun can a program that does what the idle agent does get, and what each runtime
 * feature costs on top. Each variant is a small program compiled with `bun build --compile --minify`
 * that holds a live `Bun.connect` socket to a listener in this process (the agent holds one to its
 * broker), except the bare baseline. The variants run one at a time, N rounds alternating (so drift
 * of the machine spreads over all of them), each read from /proc/PID/status after `settle` ms idle;
 * the table gives the median and the RSS range, × bare is median over median of the same run.
 *
 * The last row is the compiled agent (dist/iot-jobs-agent-linux-x64, rebuilt unless --no-build),
 * connected to Mosquitto and subscribed, for reference.
 *
 * Most of an idle Bun's RSS is clean pages of its ~100 MB executable, touched once at start and
 * never again. So after the first reading this bench asks the kernel to page out the executable's
 * mappings of the process (process_madvise(MADV_PAGEOUT) from here; needs root or CAP_SYS_NICE),
 * waits `--after-pageout` ms (default 5000) and reads again: what the idle process touches again,
 * its working set. The same call made by a process on itself is madvise(MADV_PAGEOUT).
 *
 * The file-backed part depends on how the executable's pages came into the page cache: pages just
 * written (a fresh build or install) are mapped in larger blocks than pages read from disk, ~4 MB
 * more RSS for the same program. So every start is prepared, and measured in both states:
 * "fresh" runs a new copy of the executable (as bench/idle-rss.ts measures, right after a build),
 * "cold" runs it after dropping it from the page cache (posix_fadvise DONTNEED: as after a boot).
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Mosquitto } from "../test/helpers/mosquitto.ts";

const root = join(import.meta.dir, "..");
const argv = process.argv.slice(2);
const option = (flag: string, fallback: number) => {
  const i = argv.indexOf(flag);
  return i === -1 ? fallback : Number(argv[i + 1]);
};
const runs = option("--runs", 3);
const settleMs = option("--settle", 3000);
const afterPageoutMs = option("--after-pageout", 4000);
const work = mkdtempSync(join(tmpdir(), "idle-rss-floor-"));

// Files the programs read, as the agent reads its config and credentials at start.
const configFile = join(work, "config.json");
const credentialFile = join(work, "device.key");
writeFileSync(configFile, JSON.stringify({ endpoint: "127.0.0.1", port: 8883, thingName: "floor", logLevel: "INFO" }));
writeFileSync(credentialFile, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");

// The listener the programs connect to: it accepts and keeps every socket open, sending nothing.
const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
const port = listener.port;

const keep = `setInterval(() => {}, 1e9);`;
const connect = `await Bun.connect({ hostname: "127.0.0.1", port: ${port}, socket: { data() {} } });`;
const keepAlive = (...names: string[]) => `(globalThis as any).kept = [${names.join(", ")}];`;

/** Each part of what the idle agent needs, written without node:* and without bun:ffi. */
const parts = {
  fileRead:
    `const config = await Bun.file(${JSON.stringify(configFile)}).json();` +
    `const key = await Bun.file(${JSON.stringify(credentialFile)}).text();`,
  fileStat: `const info = await Bun.file(${JSON.stringify(credentialFile)}).stat();`,
  fileWrite: `await Bun.write(${JSON.stringify(join(work, "state-"))} + process.pid, JSON.stringify({ step: null }));`,
  writer: `const out = Bun.stdout.writer(); out.write('{"level":"info","msg":"Starting"}\\n'); out.flush();`,
  valibot:
    `import * as v from "valibot";` +
    `const Config = v.object({ endpoint: v.string(), port: v.pipe(v.number(), v.integer()),` +
    ` thingName: v.pipe(v.string(), v.minLength(1)), logLevel: v.picklist(["DEBUG", "INFO", "WARN", "ERROR"]) });` +
    `const parsed = v.safeParse(Config, { endpoint: "h", port: 1, thingName: "t", logLevel: "INFO" });`,
  signals:
    `for (const s of ["SIGHUP", "SIGUSR1", "SIGUSR2", "SIGPIPE"] as const) process.on(s, () => {});` +
    `process.once("SIGTERM", () => process.exit(0)); process.once("SIGINT", () => process.exit(0));`,
  // An instance lock the kernel releases when the holder dies, with no libc call: a listening
  // Unix socket in the abstract namespace (a leading NUL; no file, nothing left behind).
  abstractLock: `const lock = Bun.listen({ unix: "\\0iot-jobs-agent-floor-" + process.pid, socket: { data() {} } });`,
  globals:
    `const bytes = Buffer.from("x"); const te = new TextEncoder().encode("x"); const td = new TextDecoder();` +
    `const ac = new AbortController(); const rnd = crypto.getRandomValues(new Uint8Array(8));`,
};
const allParts = Object.values(parts).join("\n");
const allKept = keepAlive("config", "key", "info", "out", "parsed", "lock", "bytes", "te", "td", "ac", "rnd");

// flock(2) on a file opened through libc, as src/state/flock.ts does after node:fs opened it.
const ffiFlock =
  `import { dlopen, FFIType } from "bun:ffi";` +
  `const libc = dlopen("libc.so.6", { open: { args: [FFIType.cstring, FFIType.i32, FFIType.u32],` +
  ` returns: FFIType.i32 }, flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });` +
  `const path = Buffer.from(${JSON.stringify(join(work, "lock-"))} + process.pid + "\\0");` +
  `const fd = libc.symbols.open(path, 0o102, 0o600); const locked = libc.symbols.flock(fd, 6);`;
const nodeFs =
  `import { openSync, fstatSync, readFileSync } from "node:fs";` +
  `const nfd = openSync(${JSON.stringify(credentialFile)}, "r"); const nst = fstatSync(nfd);` +
  `const ntext = readFileSync(${JSON.stringify(configFile)}, "utf8");`;

const allVariants: [string, string][] = [
  ["bare bun (no socket)", keep],
  ["Bun.connect", `${connect} ${keep}`],
  [
    "Bun.connect + Bun.file().json()/.text() reads",
    `${parts.fileRead} ${keepAlive("config", "key")} ${connect} ${keep}`,
  ],
  ["Bun.connect + Bun.file().stat()", `${parts.fileStat} ${keepAlive("info")} ${connect} ${keep}`],
  ["Bun.connect + Bun.write", `${parts.fileWrite} ${connect} ${keep}`],
  ["Bun.connect + Bun.stdout.writer()", `${parts.writer} ${keepAlive("out")} ${connect} ${keep}`],
  ["Bun.connect + valibot parse", `${parts.valibot} ${keepAlive("parsed")} ${connect} ${keep}`],
  ["Bun.connect + process.on signal handlers", `${parts.signals} ${connect} ${keep}`],
  [
    "Bun.connect + abstract Unix socket lock (Bun.listen)",
    `${parts.abstractLock} ${keepAlive("lock")} ${connect} ${keep}`,
  ],
  [
    "Bun.connect + Buffer, TextEncoder/Decoder, AbortController, crypto.getRandomValues",
    `${parts.globals} ${keepAlive("bytes", "te", "td", "ac", "rnd")} ${connect} ${keep}`,
  ],
  ["(b) all of the above: the idle agent's needs, no node:*, no bun:ffi", `${allParts}\n${allKept} ${connect} ${keep}`],
  [
    "(b) + import bun:ffi, no dlopen",
    `import { FFIType } from "bun:ffi"; ${allParts}\n${allKept} ${keepAlive("FFIType")} ${connect} ${keep}`,
  ],
  [
    "(c) (b) + bun:ffi dlopen libc, open + flock",
    `${ffiFlock}\n${allParts}\n${allKept} ${keepAlive("locked")} ${connect} ${keep}`,
  ],
  [
    "(d) (b) + node:fs (openSync, fstatSync, readFileSync)",
    `${nodeFs}\n${allParts}\n${allKept} ${keepAlive("nst", "ntext")} ${connect} ${keep}`,
  ],
];
// --quick: bare, (b) and the agent (e.g. with a long --after-pageout, to see what idle touches again).
const variants = argv.includes("--quick")
  ? allVariants.filter(([name]) => name.startsWith("bare") || name.startsWith("(b) all"))
  : allVariants;

type Status = { rss: number; anon: number; file: number };
type Sample = { first: Status; afterPageout: Status | undefined };

const SYS_PIDFD_OPEN = 434; // x86-64 and arm64 alike
const SYS_PROCESS_MADVISE = 440;
const MADV_PAGEOUT = 21;
const libc = dlopen("libc.so.6", {
  syscall: {
    args: [FFIType.i64, FFIType.i64, FFIType.u64, FFIType.u64, FFIType.i64, FFIType.u64],
    returns: FFIType.i64,
  },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  posix_fadvise: { args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.i32], returns: FFIType.i32 },
});
const POSIX_FADV_DONTNEED = 4;

type CacheState = "fresh" | "cold";
const states: CacheState[] = ["fresh", "cold"];

/** The executable to start, its pages in the page cache as `state` says. */
function prepare(bin: string, state: CacheState): string {
  if (state === "fresh") {
    const copy = `${bin}.fresh`;
    rmSync(copy, { force: true });
    copyFileSync(bin, copy);
    return copy;
  }
  const fd = openSync(bin, "r");
  fsyncSync(fd); // dirty pages are not dropped
  const failed = libc.symbols.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  closeSync(fd);
  if (failed) throw new Error(`posix_fadvise(${bin}): error ${failed}`);
  return bin;
}

/** Pages out the process's mappings of its own executable; false when the kernel refuses. */
function pageOutExecutable(pid: number): boolean {
  const exe = readlinkSync(`/proc/${pid}/exe`);
  const pidfd = Number(libc.symbols.syscall(SYS_PIDFD_OPEN, pid, 0, 0, 0, 0));
  if (pidfd < 0) return false;
  let ok = true;
  for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
    const fields = line.split(/\s+/);
    if (fields[5] !== exe) continue;
    const [start, end] = fields[0]!.split("-").map((hex) => BigInt(`0x${hex}`));
    const iov = new BigUint64Array([start!, end! - start!]);
    if (libc.symbols.syscall(SYS_PROCESS_MADVISE, pidfd, ptr(iov), 1, MADV_PAGEOUT, 0) < 0) ok = false;
  }
  libc.symbols.close(pidfd);
  return ok;
}

function status(pid: number): Status {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)![1]) / 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
}

async function measure(command: string[]): Promise<Sample> {
  const p = Bun.spawn(command, { stdout: "ignore", stderr: "pipe", cwd: work });
  await Bun.sleep(settleMs);
  if (p.exitCode !== null) throw new Error(`${command[0]} exited: ${await new Response(p.stderr).text()}`);
  const first = status(p.pid);
  let afterPageout: Status | undefined;
  if (pageOutExecutable(p.pid)) {
    await Bun.sleep(afterPageoutMs);
    afterPageout = status(p.pid);
  }
  p.kill("SIGKILL");
  await p.exited;
  return { first, afterPageout };
}

// Compile every variant first (sequentially: the machine is shared), then measure.
const binaries: string[] = [];
for (const [i, [name, code]] of variants.entries()) {
  const source = join(root, "bench", `.floor-${i}.ts`); // inside the repository, so "valibot" resolves
  writeFileSync(source, code);
  const out = join(work, `v${i}`);
  const built = Bun.spawnSync([process.execPath, "build", "--compile", "--minify", source, "--outfile", out], {
    cwd: root,
  });
  rmSync(source);
  if (built.exitCode !== 0) throw new Error(`${name}: ${built.stderr.toString()}`);
  binaries.push(out);
}

const agentBin = join(root, "dist", "iot-jobs-agent-linux-x64");
if (!argv.includes("--no-build")) {
  const built = Bun.spawnSync([process.execPath, join(root, "scripts/cross-compile/build.ts"), "linux-x64"], {
    cwd: root,
  });
  if (built.exitCode !== 0) throw new Error(`agent build: ${built.stderr.toString()}`);
}
const broker = await Mosquitto.start();
const handlers = join(work, "handlers");
mkdirSync(handlers, { mode: 0o700 });
chmodSync(handlers, 0o700);
const agentCommand = (round: number) => [
  agentBin,
  "--endpoint",
  `mqtt://127.0.0.1:${broker.port}`,
  "--thing-name",
  `rss-floor-${round}`,
  "--jobs-handler-dir",
  handlers,
  "--state-dir",
  join(work, `state-${round}`),
  "--log-level",
  "ERROR",
];

const names = [...variants.map(([name]) => name), "(e) iot-jobs-agent (Mosquitto, connected, subscribed, idle)"];
const samples: Record<CacheState, Sample[][]> = { fresh: names.map(() => []), cold: names.map(() => []) };
try {
  for (let round = 0; round < runs; round++) {
    for (const state of states) {
      for (const [i, bin] of binaries.entries()) samples[state][i]!.push(await measure([prepare(bin, state)]));
      const agent = agentCommand(round + runs * states.indexOf(state));
      agent[0] = prepare(agentBin, state);
      samples[state][binaries.length]!.push(await measure(agent));
    }
    process.stderr.write(`round ${round + 1}/${runs} done\n`);
  }
} finally {
  await broker.stop();
  listener.stop(true);
  rmSync(work, { recursive: true, force: true });
  rmSync(`${agentBin}.fresh`, { force: true });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const summarize = (of: Sample[][]) =>
  of.map((xs) => {
    const rss = xs.map((x) => x.first.rss);
    const paged = xs.flatMap((x) => (x.afterPageout ? [x.afterPageout] : []));
    return {
      rss: median(rss),
      anon: median(xs.map((x) => x.first.anon)),
      file: median(xs.map((x) => x.first.file)),
      min: Math.min(...rss),
      max: Math.max(...rss),
      paged: paged.length ? median(paged.map((x) => x.rss)) : undefined,
    };
  });
const f = (x: number) => x.toFixed(1);
console.log(
  `idle RSS, x64, Bun ${Bun.version}, MB, median of ${runs} alternating runs, read after ${settleMs} ms idle;`,
);
console.log(`"after page-out": RSS ${afterPageoutMs} ms after the executable's pages were paged out`);
for (const state of states) {
  const summary = summarize(samples[state]);
  const bare = summary[0]!;
  console.log(
    `\n${state === "fresh" ? "fresh: a new copy of each executable" : "cold: executable not in the page cache"}`,
  );
  console.log("| program | RSS | RSS range | anon | file | over bare | × bare | after page-out | × bare's |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const [i, s] of summary.entries()) {
    const paged =
      s.paged === undefined || bare.paged === undefined
        ? "n/a | n/a"
        : `${f(s.paged)} | ${(s.paged / bare.paged).toFixed(2)}`;
    console.log(
      `| ${names[i]} | ${f(s.rss)} | ${f(s.min)}–${f(s.max)} | ${f(s.anon)} | ${f(s.file)} | ` +
        `${i ? `+${f(s.rss - bare.rss)}` : "–"} | ${(s.rss / bare.rss).toFixed(2)} | ${paged} |`,
    );
  }
}
