/**
 * The platform on Node.js ≥ 20, for the boards Bun does not build for (32-bit ARM): node:net and
 * node:tls, child_process with pipes, flock(1) for the instance lock, setpriv(1) for runAsUser
 * without sudo. Only the Node build (dist/iot-jobs-agent-node.mjs) contains this module.
 *
 * Choices where Node has no equivalent of what Bun's adapter takes from libc (docs/INSTALL.md):
 * - Instance lock: a child `flock -x -n 3` on the agent's own descriptor. flock(2) locks belong
 *   to the open file description, which the child shares; the lock stays with the agent when the
 *   child exits and the kernel drops it when the agent dies in any way, exactly as with Bun.
 *   (O_EXCL files with a pid would need stale-lock guessing after a crash, and a reused pid
 *   makes that guess wrong.) flock(1) is in util-linux and BusyBox; without it the lock is
 *   "unavailable" and the agent degrades as for an unwritable state directory.
 * - runAsUser when root without sudo: `setpriv --reuid --regid --groups` (util-linux) sets the
 *   user's groups, gid and uid and execs the step, as the Bun build's `__run-as` does through
 *   libc. Node cannot set supplementary groups in a child, and running without them would give
 *   the step less than the user has (gpio, dialout), so without setpriv the step is refused.
 * - Child output: Node's pipe streams allocate a buffer per read; node-pipe-reader.ts reads the
 *   pipes into one reused buffer instead (measured in docs/BENCHMARKS.md).
 */
import { spawn, spawnSync } from "node:child_process";
import { realpathSync, writeSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { connectRequest, indexOfBlankLine, MAX_RESPONSE_HEAD_BYTES, tunnelVerdict } from "../mqtt/http-proxy.ts";
import { searchPath } from "../runner/handler-path.ts";
import type {
  ChildExit,
  ConnectOptions,
  FlockResult,
  Identity,
  PipedChild,
  PipedSpawn,
  Platform,
  PlatformSocket,
  RunAsPlan,
  SocketHandlers,
} from "./platform.ts";
import { RUN_AS_COMMAND } from "./platform.ts";
import { readChildPipe } from "./node-pipe-reader.ts";

/** The oldest Node the build is tested on and packaged for (Depends: nodejs (>= 20)). */
export const OLDEST_NODE_MAJOR = 20;

/** Why `version` (process.version) is too old, or undefined. */
export function nodeVersionProblem(version: string): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (major >= OLDEST_NODE_MAJOR) return undefined;
  const needed = `Node.js ${OLDEST_NODE_MAJOR} or later`;
  return `Node.js ${version} is too old: this build needs ${needed} (docs/INSTALL.md, "32-bit ARM")`;
}

export const platform: Platform = {
  runtime: `node ${process.version}`,
  runtimeProblem: nodeVersionProblem(process.version),
  connect,
  spawnPiped,
  tryLockExclusive,
  runAsArgv,
  runAsMain: (_args, stderr) => {
    stderr(
      `iot-jobs-agent: ${RUN_AS_COMMAND} is not part of the Node build (it runs steps as other users with setpriv)`,
    );
    return 126;
  },
  selfExecutable,
  fdWriter: (fd) => ({
    write: (text) => {
      const bytes = Buffer.from(text, "utf8");
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
    },
  }),
  collectGarbage: () => (globalThis as { gc?: () => void }).gc?.(),
};

function connect(options: ConnectOptions, h: SocketHandlers): { abandon(): void } {
  if (!options.proxy) {
    wire(openSocket(options), options, h);
    return { abandon: () => {} };
  }
  // Through an HTTP proxy: CONNECT on a plain socket, then (mqtts://) TLS inside the tunnel.
  const proxy = options.proxy;
  const where = `HTTP proxy ${proxy.host}:${proxy.port}`;
  const raw = netConnect({ host: proxy.host, port: proxy.port });
  let head = Buffer.alloc(0);
  let settled = false;
  const fail = (reason: string) => {
    if (settled) return;
    settled = true;
    raw.destroy();
    h.connectError(reason);
  };
  raw.once("connect", () => {
    raw.setNoDelay(true);
    raw.write(connectRequest(proxy, options.hostname, options.port));
  });
  const onData = (data: Buffer) => {
    head = Buffer.concat([head, data]);
    const end = indexOfBlankLine(head);
    if (end < 0) {
      if (head.length > MAX_RESPONSE_HEAD_BYTES) fail(`the ${where} sent no complete answer to CONNECT`);
      return;
    }
    const verdict = tunnelVerdict(head.subarray(0, end).toString("latin1"));
    if (!verdict.ok) return fail(verdict.reason);
    settled = true;
    raw.off("data", onData);
    raw.removeAllListeners("error");
    raw.removeAllListeners("close");
    const rest = head.subarray(end + 4);
    if (rest.length > 0) raw.unshift(rest);
    wire(openSocket(options, raw), options, h);
  };
  raw.on("data", onData);
  raw.on("error", (error) => fail(`${where}: ${error.message}`));
  raw.on("close", () => fail(`the ${where} closed the connection before the tunnel stood`));
  return {
    abandon: () => {
      if (settled) return;
      settled = true;
      raw.destroy();
    },
  };
}

/** A direct TCP/TLS socket, or TLS over an established tunnel (`over`). */
function openSocket(options: ConnectOptions, over?: Socket): Socket {
  const { tls } = options;
  if (!tls) return over ?? netConnect({ host: options.hostname, port: options.port });
  return tlsConnect({
    ...(over ? { socket: over } : { host: options.hostname, port: options.port }),
    cert: asBuffer(tls.cert),
    key: asBuffer(tls.key),
    ca: asBuffer(tls.ca),
    servername: tls.serverName,
    rejectUnauthorized: true,
    ...(tls.ALPNProtocols ? { ALPNProtocols: Buffer.from(tls.ALPNProtocols) } : {}),
  });
}

/** Calls `h` for what happens on `socket` (a tunnel's plain socket is already connected). */
function wire(socket: Socket, options: ConnectOptions, h: SocketHandlers): void {
  const { tls } = options;
  let opened = false;
  let closed = false;
  const wrapper: PlatformSocket = {
    // Node buffers what the kernel does not take; 'drain' still says when that buffer is empty.
    write: (data) => (socket.write(data), data.length),
    end: () => void socket.end(),
    terminate: () => void socket.destroy(),
    setNoDelay: (on) => void socket.setNoDelay(on),
    get alpnProtocol() {
      return (socket as Socket & { alpnProtocol?: string | false | null }).alpnProtocol;
    },
  };
  const close = () => {
    if (closed) return;
    closed = true;
    if (opened) h.close(wrapper);
    else h.connectError("the connection closed before it was established");
  };
  const open = () => {
    opened = true;
    h.open(wrapper);
  };
  // A tunnel's plain socket is connected already: it opens at once.
  if (!tls && options.proxy) queueMicrotask(open);
  else socket.once(tls ? "secureConnect" : "connect", open);
  socket.on("data", (data: Buffer) => h.data(wrapper, data));
  socket.on("drain", () => h.drain(wrapper));
  socket.on("end", close);
  socket.on("close", close);
  socket.on("error", (error) => {
    if (closed) return;
    if (opened) h.error(wrapper, error.message);
    else {
      closed = true;
      h.connectError(tls ? `TLS handshake failed: ${error.message}` : error.message);
    }
  });
}

function asBuffer(value: Uint8Array | string | undefined): Buffer | string | undefined {
  return value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value;
}

function spawnPiped(req: PipedSpawn): PipedChild {
  const [file, ...args] = req.argv;
  const child = spawn(file!, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: req.env,
    cwd: req.cwd,
    // Own session and process group (setsid): the whole tree can be signalled.
    detached: true,
  });
  const started = new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  const exited = new Promise<ChildExit>((resolve) => {
    child.once("exit", (exitCode, signalCode) => resolve({ exitCode, signalCode }));
    // Never started: no 'exit' follows.
    child.once("error", () => resolve({ exitCode: null, signalCode: null }));
  });
  // Taken over now, in the turn that spawned the child, before the event loop read anything.
  const readers = [readChildPipe(child.stdout!, req.stdout), readChildPipe(child.stderr!, req.stderr)];
  return {
    pid: child.pid ?? -1,
    started,
    exited,
    outputDone: Promise.all(readers.map((r) => r.done)).then(() => {}),
    detachOutput: () => {
      for (const r of readers) r.detach();
    },
  };
}

function tryLockExclusive(fd: number): FlockResult {
  const result = spawnSync("flock", ["-x", "-n", "3"], {
    stdio: ["ignore", "ignore", "pipe", fd],
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C" },
  });
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    return {
      kind: "unavailable",
      reason: `flock(1) could not be run (${code ?? result.error.message}); install util-linux or BusyBox flock`,
    };
  }
  if (result.status === 0) return { kind: "locked" };
  const stderr = result.stderr.toString().trim();
  // flock -n on a held lock exits 1 silently (util-linux and BusyBox); anything else says why.
  if (result.status === 1 && stderr === "") return { kind: "busy" };
  return { kind: "unavailable", reason: `flock(1) failed: ${stderr || `status ${result.status ?? result.signal}`}` };
}

function runAsArgv(who: Identity, argv: readonly string[], pathEnv: string): RunAsPlan {
  const setpriv = searchPath("setpriv", pathEnv);
  if (!setpriv)
    return {
      ok: false,
      reason:
        "sudo is not installed and setpriv (util-linux) is not either: the Node build needs one to run as another user",
    };
  const groups = who.groups.length > 0 ? ["--groups", who.groups.join(",")] : ["--clear-groups"];
  return {
    ok: true,
    argv: [setpriv, "--reuid", String(who.uid), "--regid", String(who.gid), ...groups, "--", ...argv],
  };
}

/** The bundle itself (it starts with #!/usr/bin/env node), for handlers that call the agent back. */
function selfExecutable(): string | undefined {
  const script = process.argv[1];
  if (!script) return undefined;
  try {
    return realpathSync(script);
  } catch {
    return undefined;
  }
}
