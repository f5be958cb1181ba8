/**
 * The platform on Bun: Bun.connect (1.8 MB where node:net costs 9.6 MB, docs/BENCHMARKS.md),
 * Bun.spawn into our own libc pipes read into one reused buffer (runner/os-pipe.ts,
 * pipe-reader.ts; Bun's streams when libc cannot be loaded), flock and the `__run-as` mode from
 * libc through bun:ffi (state/flock.ts, runner/drop-privileges.ts).
 */
import type { SocketHandler } from "bun";
import type { ByteSink } from "../runner/byte-sink.ts";
import { runAsArgv, runAsMain } from "../runner/drop-privileges.ts";
import { closeFd, type OsPipe, openPipe } from "../runner/os-pipe.ts";
import { readPipe } from "../runner/pipe-reader.ts";
import { tryLockExclusive } from "../state/flock.ts";
import { openThroughProxy } from "./bun-proxy.ts";
import { socketErrorText } from "./socket-error.ts";
import type { ConnectOptions, PipedChild, PipedSpawn, Platform, PlatformSocket, SocketHandlers } from "./platform.ts";

export const platform: Platform = {
  runtime: `bun ${Bun.version}`,
  runtimeProblem: undefined, // the executable carries its own runtime
  connect,
  spawnPiped,
  tryLockExclusive,
  runAsArgv: (who, argv) => ({ ok: true, argv: runAsArgv(who, argv) }),
  runAsMain,
  selfExecutable: () => (Bun.main.startsWith("/$bunfs/") ? process.execPath : undefined),
  // Bun's own writers: process.stdout and node:fs writes load the Node stream machinery (+5–8 MB idle).
  fdWriter: (fd) => {
    const sink = fd === 1 ? Bun.stdout.writer() : fd === 2 ? Bun.stderr.writer() : Bun.file(fd).writer();
    return {
      write: (text) => {
        sink.write(text);
        sink.flush();
      },
    };
  },
  // A full collection after each job keeps a months-long agent's floor flat (bench/soak.ts).
  collectGarbage: () => Bun.gc(true),
};

function connect(options: ConnectOptions, h: SocketHandlers): { abandon(): void } {
  const { tls } = options;
  let isOpen = false;
  let over = false;
  const opened = (socket: PlatformSocket) => {
    if (over || isOpen) return;
    isOpen = true;
    h.open(socket);
  };
  const failed = (socket: PlatformSocket | undefined, message: string) => {
    if (over) return;
    over = true;
    socket?.terminate();
    h.connectError(message);
  };
  const closed = (socket: PlatformSocket) => {
    if (over) return;
    if (!isOpen) return failed(socket, "the connection closed before it was established");
    over = true;
    h.close(socket);
  };
  const bunTls = tls
    ? {
        cert: tls.cert,
        key: tls.key,
        ca: tls.ca,
        serverName: tls.serverName,
        rejectUnauthorized: true,
        ...(tls.ALPNProtocols ? { ALPNProtocols: tls.ALPNProtocols } : {}),
      }
    : undefined;
  const handlers: SocketHandler<undefined> = {
    // With TLS the socket opens before the handshake: the caller hears of it once it is verified.
    open: (socket) => void (tls ? undefined : opened(socket)),
    data: (socket, data) => h.data(socket, data),
    drain: (socket) => h.drain(socket),
    close: (socket) => closed(socket),
    end: (socket) => closed(socket),
    error: (socket, error) =>
      isOpen ? h.error(socket, socketErrorText(error)) : failed(socket, socketErrorText(error)),
    connectError: (_socket, error) => failed(undefined, socketErrorText(error)),
    handshake: (socket, success, verifyError) => {
      if (success && !verifyError) opened(socket);
      else failed(socket, `TLS handshake failed: ${verifyError?.message ?? "unknown reason"}`);
    },
  };
  if (options.proxy)
    return openThroughProxy(options.proxy, { host: options.hostname, port: options.port, tls: bunTls }, handlers);
  Bun.connect({ hostname: options.hostname, port: options.port, tls: bunTls, socket: handlers }).catch((error: Error) =>
    failed(undefined, socketErrorText(error)),
  );
  return { abandon: () => {} };
}

function spawnPiped(req: PipedSpawn): PipedChild {
  const pipes = openPipes();
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn([...req.argv], {
      stdin: "ignore",
      stdout: pipes ? pipes[0].writeFd : "pipe",
      stderr: pipes ? pipes[1].writeFd : "pipe",
      env: req.env,
      cwd: req.cwd,
      // Own session and process group: the whole tree can be signalled, and the agent's
      // terminal signals (Ctrl-C) do not reach it directly.
      detached: true,
    });
  } catch (error) {
    for (const p of pipes ?? []) closeFd(p.readFd), closeFd(p.writeFd);
    throw error;
  }
  // The child has its copies; ours must go, or the read ends never see end-of-stream.
  for (const p of pipes ?? []) closeFd(p.writeFd);
  const readers = pipes
    ? [readPipe(pipes[0].readFd, req.stdout), readPipe(pipes[1].readFd, req.stderr)]
    : [
        pump(proc.stdout as ReadableStream<Uint8Array>, req.stdout),
        pump(proc.stderr as ReadableStream<Uint8Array>, req.stderr),
      ];
  return {
    pid: proc.pid,
    started: Promise.resolve(),
    exited: proc.exited.then(() => ({
      exitCode: proc.exitCode,
      signalCode: proc.signalCode === null ? null : String(proc.signalCode),
    })),
    outputDone: Promise.all(readers.map((r) => r.done)).then(() => {}),
    detachOutput: () => {
      for (const r of readers) r.detach();
    },
  };
}

function openPipes(): [OsPipe, OsPipe] | undefined {
  const out = openPipe();
  if (!out) return undefined;
  const err = openPipe();
  if (!err) {
    closeFd(out.readFd);
    closeFd(out.writeFd);
    return undefined;
  }
  return [out, err];
}

/** Fallback reader over Bun's stream (no libc): one allocation per read. */
function pump(stream: ReadableStream<Uint8Array>, tail: ByteSink): { done: Promise<void>; detach: () => void } {
  const reader = stream.getReader();
  let detached = false;
  const done = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        if (!detached) tail.push(value);
      }
    } catch {
      // The pipe broke: what was read is kept.
    }
  })();
  return {
    done,
    detach: () => {
      detached = true;
    },
  };
}
