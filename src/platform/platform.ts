/**
 * What the agent takes from its JavaScript runtime, and nothing else: the TCP/TLS socket, a child
 * process with its output pipes and its own process group, the instance lock, the way to run a
 * step as another user, and the executable's own identity. One module per runtime implements it
 * (`bun.ts`, `node.ts`); the core imports `current.ts`, which is the Bun adapter, and the Node
 * build maps that one import to the Node adapter (scripts/cross-compile/node-build.ts). No
 * runtime test happens at run time, and each bundle holds only its own adapter.
 *
 * Every adapter passes the same contract suite (test/platform/platform-contract.ts).
 */
import type { HttpProxy } from "../config/http-proxy-config.ts";
import type { ByteSink } from "../runner/byte-sink.ts";

export interface Platform {
  /** "bun 1.4.5", "node v20.19.2": for the version line. */
  readonly runtime: string;
  /** Why this runtime cannot run the agent (a Node older than the build supports), or undefined. */
  readonly runtimeProblem: string | undefined;
  /**
   * Opens a TCP or TLS connection (through an HTTP proxy when `options.proxy`); every outcome
   * arrives through `handlers`. `abandon()` gives an attempt up: a tunnel not yet standing is closed.
   */
  connect(options: ConnectOptions, handlers: SocketHandlers): { abandon(): void };
  /**
   * Starts `argv` in its own session and process group, stdin from /dev/null, stdout and stderr
   * into the sinks. Throws (an errno error) or rejects `started` when it cannot be started.
   */
  spawnPiped(request: PipedSpawn): PipedChild;
  /** An exclusive lock on the open file `fd`, without waiting; released when the last descriptor closes. */
  tryLockExclusive(fd: number): FlockResult;
  /** How to run `argv` as another user when the agent is root and sudo is absent (or why not). */
  runAsArgv(who: Identity, argv: readonly string[], pathEnv: string): RunAsPlan;
  /** The `__run-as` mode of the executable (see runAsArgv); returns an exit status when it could not exec. */
  runAsMain(args: readonly string[], stderr: (line: string) => void): number;
  /** The path handlers call back as IOT_JOBS_AGENT (verify-signature), or undefined when run from source. */
  selfExecutable(): string | undefined;
  /** Writes whole lines to a descriptor now (the logger: stdout, stderr or its file). */
  fdWriter(fd: number): FdWriter;
  /** After a job: give memory back (a full collection where the runtime offers one). */
  collectGarbage(): void;
}

export interface FdWriter {
  /** Written in full before it returns (a log line must not be lost to a crash that follows). */
  write(text: string): void;
}

export const RUN_AS_COMMAND = "__run-as";

export interface TlsOptions {
  readonly cert?: Uint8Array | string;
  readonly key?: Uint8Array | string;
  readonly ca?: Uint8Array | string;
  readonly serverName: string;
  /** The ALPN protocol list in wire format (each name prefixed by its length). */
  readonly ALPNProtocols?: Uint8Array;
}

export interface ConnectOptions {
  readonly hostname: string;
  readonly port: number;
  /** Present: TLS, the server's certificate always verified. */
  readonly tls?: TlsOptions;
  /** Present: through this HTTP proxy (CONNECT), TLS inside the tunnel. */
  readonly proxy?: HttpProxy;
}

/** The part of a connected socket the MQTT client uses (Bun's Socket has this shape). */
export interface PlatformSocket {
  /** Bytes taken now (the rest must wait for `drain`). */
  write(data: Uint8Array): number;
  /** Graceful close, after what was written. */
  end(): void;
  /** Close now, discarding what is unsent. */
  terminate(): void;
  setNoDelay?(on: boolean): void;
  /** TLS: the ALPN protocol the server selected; false or null when none (doctor checks it on 443). */
  readonly alpnProtocol?: string | false | null;
}

export interface SocketHandlers {
  /** Connected (TLS: after a verified handshake). */
  open(socket: PlatformSocket): void;
  data(socket: PlatformSocket, data: Uint8Array): void;
  drain(socket: PlatformSocket): void;
  /** The peer ended or the socket closed. */
  close(socket: PlatformSocket): void;
  /** A connected socket failed. */
  error(socket: PlatformSocket, message: string): void;
  /** No connection was made (refused, unreachable, TLS handshake or verification failed). */
  connectError(message: string): void;
}

export interface PipedSpawn {
  readonly argv: readonly string[];
  readonly env: Record<string, string | undefined>;
  readonly cwd?: string;
  readonly stdout: ByteSink;
  readonly stderr: ByteSink;
}

export interface ChildExit {
  readonly exitCode: number | null;
  readonly signalCode: string | null;
}

export interface PipedChild {
  readonly pid: number;
  /** Resolves once the child runs; rejects with the errno error when it could not be started. */
  readonly started: Promise<void>;
  readonly exited: Promise<ChildExit>;
  /** Both pipes at end of stream (a grandchild may hold them open after the child exits). */
  readonly outputDone: Promise<void>;
  /** No longer tied to the step: the rest of the output is read and discarded, without keeping the agent alive. */
  detachOutput(): void;
}

/** "locked": ours now; "busy": another open file holds it; otherwise why it cannot be locked. */
export type FlockResult = { kind: "locked" } | { kind: "busy" } | { kind: "unavailable"; reason: string };

export interface Identity {
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
}

export type RunAsPlan =
  | { readonly ok: true; readonly argv: string[] }
  | { readonly ok: false; readonly reason: string };
