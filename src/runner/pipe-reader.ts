/**
 * Drains the read end of a non-blocking pipe into a ByteSink without allocating per read.
 *
 * There is no readiness callback for a bare fd in Bun, so the reader polls: while data flows it
 * re-reads on the next turn of the event loop; once the pipe stays empty it backs off to at most
 * MAX_IDLE_DELAY_MS, so a step that prints nothing for an hour costs ~40 cheap syscalls a second.
 * The sink gets a view of the shared buffer: it must copy what it keeps (OutputTail does).
 *
 * A step's background process (`myapp &`) may keep the pipe after the step ends. Closing our end
 * would kill it with SIGPIPE at its next write, so `detach` keeps reading to end of stream and
 * throws the bytes away, polling more slowly and without keeping the agent's event loop alive.
 */
import type { ByteSink } from "./byte-sink.ts";
import { closeFd, readAvailable } from "./os-pipe.ts";

const BUFFER_BYTES = 64 * 1024;
/** Reads per turn before yielding to the event loop, so MQTT and timers are never starved. */
const READS_PER_TURN = 64;
/** Empty polls answered on the next turn before backing off to timers. */
const EAGER_POLLS = 2;
const MAX_IDLE_DELAY_MS = 50;
/** Once detached: nobody waits for these bytes; the pipe's 1 MiB absorbs a chatty daemon meanwhile. */
const DETACHED_IDLE_DELAY_MS = 250;

export interface PipeReading {
  /** Settles at end of stream or after `stop`; the fd is closed by then. */
  readonly done: Promise<void>;
  /** Stop reading now (the pipe may still be held open by a grandchild). */
  stop(): void;
  /** No longer tied to the step: discard what comes, read until end of stream (`done` settles then). */
  detach(): void;
}

const discard: ByteSink = { push: () => {}, end: () => {} };

export function readPipe(fd: number, target: ByteSink): PipeReading {
  let sink = target;
  const buffer = new Uint8Array(BUFFER_BYTES);
  const full = buffer.subarray(0); // the view for a full read, made once
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  let emptyPolls = 0;
  let detached = false;

  const close = () => {
    if (stopped) return;
    stopped = true;
    if (timer) clearTimeout(timer);
    closeFd(fd); // exactly once: a closed fd number may already belong to someone else
    finish();
  };

  const turn = () => {
    timer = undefined;
    if (stopped) return;
    for (let i = 0; i < READS_PER_TURN; i++) {
      const n = readAvailable(fd, buffer);
      if (n === 0) return close();
      if (n < 0) break;
      emptyPolls = 0;
      sink.push(n === BUFFER_BYTES ? full : buffer.subarray(0, n));
    }
    if (emptyPolls < EAGER_POLLS) {
      emptyPolls++;
      setImmediate(turn);
    } else {
      const maxDelay = detached ? DETACHED_IDLE_DELAY_MS : MAX_IDLE_DELAY_MS;
      timer = setTimeout(turn, Math.min(maxDelay, 2 ** (emptyPolls++ - EAGER_POLLS)));
      if (detached) timer.unref();
    }
  };
  turn();

  return {
    done,
    stop: close,
    detach: () => {
      detached = true;
      sink = discard;
      timer?.unref();
    },
  };
}
