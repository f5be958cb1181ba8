/**
 * `/console/events`: server-sent events telling open consoles *what kind* of state changed, never
 * the changes themselves. Commits mark kinds (and job ids) dirty, which costs a Set insertion per
 * record; at most every `intervalMs` one small summary goes to every open stream
 * (`{"kinds":["execution","job"],"jobs":["j1"]}`, `"jobs":"*"` when many changed), and the page
 * re-reads only the view it shows. So 10,000 executions changing in a second cost two messages a
 * second per console, and nothing at all when no console is open.
 */
import type { Clock } from "../../util/clock.ts";
import type { Kind } from "../store.ts";

/** Above this many changed jobs in one interval the summary says "*" (every job). */
const MAX_JOB_IDS = 50;
/** A comment line this often keeps idle streams (and Bun's idle timeout) from closing them. */
const KEEPALIVE_MS = 5_000;
/** Open streams at most: each holds a connection. */
export const MAX_STREAMS = 32;

export interface ConsoleEventsOptions {
  readonly clock: Clock;
  readonly intervalMs?: number;
  /** How many MQTT clients are connected; a change is announced as the kind "connection". */
  readonly connectedCount?: () => number;
}

export class ConsoleEvents {
  private readonly streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  private readonly kinds = new Set<string>();
  private readonly jobs = new Set<string>();
  private manyJobs = false;
  private timer: { cancel(): void } | undefined;
  private lastConnected = -1;
  private sinceKeepalive = 0;
  private readonly encoder = new TextEncoder();
  private readonly intervalMs: number;

  constructor(private readonly options: ConsoleEventsOptions) {
    this.intervalMs = options.intervalMs ?? 500;
  }

  /** Store commit listener: one record changed. */
  readonly changed = (kind: Kind, key: string): void => {
    if (this.streams.size === 0) return;
    this.kinds.add(kind);
    if (kind === "job" || kind === "execution") {
      if (this.jobs.size >= MAX_JOB_IDS) this.manyJobs = true;
      else this.jobs.add(kind === "job" ? key : key.slice(0, key.indexOf("\u0000")));
    }
  };

  get streamCount(): number {
    return this.streams.size;
  }

  /** A new stream, or undefined when MAX_STREAMS are open. */
  open(): Response | undefined {
    if (this.streams.size >= MAX_STREAMS) return undefined;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
        this.streams.add(c);
        c.enqueue(this.encoder.encode(`retry: 2000\nevent: hello\ndata: {}\n\n`));
        this.schedule();
      },
      cancel: () => this.close(controller),
    });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      },
    });
  }

  /** Ends every stream (service stop). */
  stop(): void {
    for (const c of this.streams) {
      try {
        c.close();
      } catch {}
    }
    this.streams.clear();
    this.timer?.cancel();
    this.timer = undefined;
  }

  private close(c: ReadableStreamDefaultController<Uint8Array>): void {
    this.streams.delete(c);
    if (this.streams.size === 0) {
      this.timer?.cancel();
      this.timer = undefined;
      this.kinds.clear();
      this.jobs.clear();
      this.manyJobs = false;
    }
  }

  private schedule(): void {
    if (this.timer || this.streams.size === 0) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.tick();
      this.schedule();
    }, this.intervalMs);
  }

  private tick(): void {
    const connected = this.options.connectedCount?.();
    if (connected !== undefined && connected !== this.lastConnected) {
      if (this.lastConnected !== -1) this.kinds.add("connection");
      this.lastConnected = connected;
    }
    this.sinceKeepalive += this.intervalMs;
    let message: string | undefined;
    if (this.kinds.size > 0) {
      const summary = { kinds: [...this.kinds].sort(), jobs: this.manyJobs ? "*" : [...this.jobs] };
      message = `event: change\ndata: ${JSON.stringify(summary)}\n\n`;
      this.kinds.clear();
      this.jobs.clear();
      this.manyJobs = false;
    } else if (this.sinceKeepalive >= KEEPALIVE_MS) {
      message = ": keepalive\n\n";
    }
    if (message === undefined) return;
    this.sinceKeepalive = 0;
    const bytes = this.encoder.encode(message);
    for (const c of [...this.streams]) {
      try {
        c.enqueue(bytes);
      } catch {
        this.close(c);
      }
    }
  }
}
